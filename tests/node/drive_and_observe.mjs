// Drives one persistream stream with the official graphql-ws client and observes it from a second client.
//
//   node drive_and_observe.mjs <ws-url> <streamId>
//
// The driver subscribes to streamChat; once it has seen its first token, a second client (its own socket)
// subscribes to streamBody from offset 0. Both run until the server completes them. Prints one JSON object:
// {"driver": [events], "observer": [events], "protocols": [subprotocol per client]} and exits 0, or prints the
// error and exits 1. The Python test checks the events against the persisted text.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, streamId] = process.argv.slice(2);
if (!url || !streamId) {
  console.error("usage: node drive_and_observe.mjs <ws-url> <streamId>");
  process.exit(2);
}

const FIELDS = "streamId delta offset status error";
const STREAM_CHAT = `subscription($id: ID!) { streamChat(streamId: $id) { ${FIELDS} } }`;
const STREAM_BODY = `subscription($id: ID!) { streamBody(streamId: $id, fromOffset: 0) { ${FIELDS} } }`;

const protocols = [];

function connect() {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    on: {
      connected: (socket) => protocols.push(socket.protocol),
    },
  });
}

// Every event of one subscription, in order, until the server completes it.
async function collect(client, query, onEvent) {
  const events = [];
  for await (const result of client.iterate({ query, variables: { id: streamId } })) {
    if (result.errors) {
      throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    }
    const event = Object.values(result.data)[0];
    events.push(event);
    onEvent?.(event);
  }
  return events;
}

async function main() {
  const driverClient = connect();
  const observerClient = connect();
  try {
    let firstToken;
    const started = new Promise((resolve) => {
      firstToken = resolve;
    });
    const driven = collect(driverClient, STREAM_CHAT, (event) => {
      if (event.delta !== "" || !["PENDING", "STREAMING"].includes(event.status)) firstToken();
    });
    driven.catch(() => firstToken());
    await started;
    const observed = await collect(observerClient, STREAM_BODY);
    const driver = await driven;
    process.stdout.write(`${JSON.stringify({ driver, observer: observed, protocols })}\n`);
  } finally {
    await Promise.all([driverClient.dispose(), observerClient.dispose()]);
  }
}

const timer = setTimeout(() => {
  console.error("timed out after 30 s");
  process.exit(1);
}, 30_000);
timer.unref();

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.message : JSON.stringify(error));
    process.exit(1);
  },
);
