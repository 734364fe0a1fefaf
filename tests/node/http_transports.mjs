// Drives and observes one persistream stream over plain HTTP with an official client: `graphql-sse` (GraphQL over
// Server-Sent Events, "distinct connections" mode) or Apollo Client 4 with only an HttpLink (multipart HTTP
// subscriptions). Run by tests/e2e/test_http_subscriptions.py.
//
//   node http_transports.mjs stream <sse|apollo> <http-url> <streamId> [headers-json]
//     The driver subscribes to streamChat; once it holds some text, an observer (its own connection) subscribes to
//     streamBody from the driver's offset at that moment. Both run until the server completes them. Prints
//     {"driver": [events], "observer": [events], "observerFrom": offset}.
//   node http_transports.mjs errors <sse|apollo> <http-url> <query> [headers-json]
//     Runs one subscription document and prints {"events": [...], "errors": [graphql errors]} without throwing.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createClient } from "graphql-sse";

const [mode, transport, url, arg, headersJson] = process.argv.slice(2);
if (!["stream", "errors"].includes(mode) || !["sse", "apollo"].includes(transport) || !url || !arg) {
  console.error("usage: node http_transports.mjs <stream|errors> <sse|apollo> <http-url> <streamId|query> [headers]");
  process.exit(2);
}
const headers = headersJson ? JSON.parse(headersJson) : {};

const FIELDS = "streamId delta offset status error";
const STREAM_CHAT = `subscription($id: ID!) { streamChat(streamId: $id) { ${FIELDS} } }`;
const STREAM_BODY = `subscription($id: ID!, $from: Int!) { streamBody(streamId: $id, fromOffset: $from) { ${FIELDS} } }`;

const clients = [];

// One subscription per client, so each gets its own HTTP connection (as two tabs would).
function subscribe(query, variables, sink) {
  if (transport === "sse") {
    const client = createClient({ url, headers, singleConnection: false, retryAttempts: 0 });
    clients.push(() => client.dispose());
    return client.subscribe({ query, variables }, sink);
  }
  const client = new ApolloClient({ link: new HttpLink({ uri: url, headers }), cache: new InMemoryCache() });
  clients.push(() => client.stop());
  const subscription = client.subscribe({ query: gql(query), variables, fetchPolicy: "no-cache" }).subscribe({
    // Apollo 4 hands GraphQL errors over as `result.error` (CombinedGraphQLErrors) on a `next`.
    next: (result) => sink.next(result.error ? { errors: result.error.errors ?? [result.error] } : result),
    error: sink.error,
    complete: sink.complete,
  });
  return () => subscription.unsubscribe();
}

// Every event of one subscription until the server completes it; GraphQL errors reject.
function collect(query, variables, onEvent) {
  return new Promise((resolve, reject) => {
    const events = [];
    subscribe(query, variables, {
      next: (result) => {
        if (result.errors?.length) {
          reject(new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`));
          return;
        }
        const event = Object.values(result.data)[0];
        const { __typename, ...plain } = event;
        events.push(plain);
        onEvent?.(plain);
      },
      error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
      complete: () => resolve(events),
    });
  });
}

async function stream(streamId) {
  let holding;
  const started = new Promise((resolve) => {
    holding = resolve;
  });
  const driven = collect(STREAM_CHAT, { id: streamId }, (event) => {
    if (event.delta !== "" || !["PENDING", "STREAMING"].includes(event.status)) holding(event.offset);
  });
  driven.catch(() => holding(0));
  const from = await started;
  const observer = await collect(STREAM_BODY, { id: streamId, from });
  const driver = await driven;
  return { driver, observer, observerFrom: from };
}

function errors(query) {
  return new Promise((resolve) => {
    const events = [];
    const found = [];
    subscribe(query, {}, {
      next: (result) => (result.errors?.length ? found.push(...result.errors) : events.push(result.data)),
      error: (error) => {
        // A transport-level failure: the client has no GraphQL errors to give; report what it says.
        found.push({ message: String(error?.message ?? error), transport: true });
        resolve({ events, errors: found });
      },
      complete: () => resolve({ events, errors: found }),
    });
  });
}

const timer = setTimeout(() => {
  console.error("timed out after 30 s");
  process.exit(1);
}, 30_000);
timer.unref();

(mode === "stream" ? stream(arg) : errors(arg))
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    for (const dispose of clients) dispose();
    process.exit(0);
  })
  .catch((error) => {
    console.error(error instanceof Error ? error.message : JSON.stringify(error));
    process.exit(1);
  });
