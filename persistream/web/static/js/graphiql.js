// GraphiQL on the server's own assets. Queries and mutations go over HTTP, subscriptions over the WebSocket
// (GraphiQL's fetcher speaks graphql-transport-ws). The editors' contents are kept in the URL so a query can be
// shared or bookmarked: /graphql?q=...&variables=... (not `query`: a GET with `query` is a GraphQL request, and
// the server would run it instead of serving this page).
(function () {
  "use strict";

  const DEFAULT_QUERY = `# persistream's GraphQL API. Ctrl+Enter runs the operation under the cursor.
#
# Start a chat, then watch its answer stream in: copy the responseStreamId
# into the variables below and run the subscription.

mutation Send {
  sendMessage(prompt: "Write a haiku about rivers.") {
    threadId
    responseStreamId
  }
}

subscription Watch($streamId: ID!) {
  streamChat(streamId: $streamId) { delta offset status error }
}

query Threads {
  threads(last: 10) { id title createdAt }
}
`;

  const params = new URLSearchParams(window.location.search);
  const endpoint = new URL(window.location.pathname, window.location.origin);
  const socket = new URL(endpoint);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  function remember(name, value) {
    if (value) params.set(name, value);
    else params.delete(name);
    const search = params.toString();
    window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  }

  const fetcher = GraphiQL.createFetcher({ url: endpoint.toString(), subscriptionUrl: socket.toString() });

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: DEFAULT_QUERY,
      query: params.get("q") ?? undefined,
      variables: params.get("variables") ?? undefined,
      onEditQuery: (value) => remember("q", value),
      onEditVariables: (value) => remember("variables", value),
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
})();
