"""GraphQL resolvers: thin functions that validate arguments, call the chat layer, and return its objects, whose
attributes the schema's types expose; with them, how the schema executes operations (execution.py, shared.py).
They know nothing of HTTP or WebSockets: what the web layer gives them is `context.Context`."""
