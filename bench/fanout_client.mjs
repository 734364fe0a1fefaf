// Many WebSocket observers in one Node process, one socket each, for bench/fanout.py and bench/idle.py.
//
//   node bench/fanout_client.mjs '<json options>'
//
// Options: url, mode ("graphql": graphql-transport-ws streamBody subscribers; "raw": the bare baseline endpoint),
// count, streamId, stalled (how many of the sockets stop reading once subscribed), hold (seconds to stay
// connected without expecting anything: the idle benchmark).
// Prints "READY" once every socket is subscribed and has its first event (or the baseline's "ready"), then one JSON
// line when every socket is done: the latency in ms of every stamped line received (receive time minus the stamp
// the model put in the line), the message bytes and the text characters each socket received, final statuses.
// `ws` is the test client's copy (tests/node/node_modules), so nothing here is installed separately.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tests", "node", "package.json"));
const WebSocket = require("ws");

const options = JSON.parse(process.argv[2]);
const QUERY = `subscription($id: ID!) { streamBody(streamId: $id, fromOffset: 0) { delta offset status } }`;
const now = () => performance.timeOrigin + performance.now();

const latencies = [];
const perSocket = [];

function observe(index) {
  const stalled = index < (options.stalled || 0);
  const record = { bytes: 0, chars: 0, status: null, stalled };
  perSocket.push(record);
  let carry = "";
  const take = (text) => {
    record.chars += [...text].length;
    carry += text;
    let cut;
    while ((cut = carry.indexOf("\n")) >= 0) {
      const stampText = carry.slice(0, carry.indexOf(" "));
      carry = carry.slice(cut + 1);
      const stamp = Number(stampText) * 1000;
      if (!stalled && Number.isFinite(stamp)) latencies.push(now() - stamp);
    }
  };
  return new Promise((ready, fail) => {
    const graphql = options.mode === "graphql";
    const ws = new WebSocket(options.url, graphql ? ["graphql-transport-ws"] : [], { perMessageDeflate: false });
    let isReady = false;
    const becomeReady = () => {
      if (isReady) return;
      isReady = true;
      if (stalled) ws._socket.pause(); // stops reading: the server's sends to it back up
      ready({ done }); // wrapped: resolving with a promise would wait for it
    };
    let finish;
    const done = new Promise((resolve) => (finish = resolve));
    ws.on("open", () => {
      if (graphql) ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
      else ws.send("listen");
    });
    ws.on("message", (data) => {
      const text = data.toString();
      record.bytes += data.length;
      if (!graphql) {
        if (text === "ready") becomeReady();
        else take(text);
        return;
      }
      const message = JSON.parse(text);
      if (message.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: QUERY, variables: { id: options.streamId } } }));
      } else if (message.type === "next") {
        const event = message.payload.data.streamBody;
        take(event.delta);
        record.status = event.status;
        becomeReady();
      } else if (message.type === "complete") {
        ws.close();
      } else if (message.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "error") {
        fail(new Error(JSON.stringify(message.payload)));
      }
    });
    ws.on("close", () => finish());
    ws.on("error", (error) => (isReady ? finish() : fail(error)));
  });
}

async function main() {
  const dones = [];
  const batch = 50; // connect in batches: a thousand handshakes at once only measures the accept queue
  for (let i = 0; i < options.count; i += batch) {
    const ready = await Promise.all(
      Array.from({ length: Math.min(batch, options.count - i) }, (_, k) => observe(i + k)),
    );
    dones.push(...ready.map((r) => r.done));
  }
  process.stdout.write("READY\n");
  if (options.hold) {
    await new Promise((resolve) => setTimeout(resolve, options.hold * 1000));
    exitWith({ held: perSocket.length });
    return;
  }
  const live = dones.filter((_, i) => !perSocket[i].stalled);
  await Promise.all(live);
  const reading = perSocket.filter((r) => !r.stalled);
  exitWith({
    latencies,
    bytes: reading.map((r) => r.bytes),
    chars: reading.map((r) => r.chars),
    statuses: reading.map((r) => r.status),
  });
}

// Exit only once the line is written: a pipe is written asynchronously, and exiting first would cut it short.
function exitWith(result) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
