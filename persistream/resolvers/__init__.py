"""GraphQL resolvers: thin functions that validate arguments, call core, and return core objects whose attributes
the schema's types expose. They know nothing of HTTP or WebSockets."""
