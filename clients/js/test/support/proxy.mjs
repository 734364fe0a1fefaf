// A TCP proxy in front of the server that a test can cut: every open connection is destroyed at once, and for a
// while new ones are refused, the way a dropped Wi-Fi loses a WebSocket. `freeze()` instead keeps connections
// open but stops forwarding, the way a sleeping laptop's socket goes silent without closing.
import net from "node:net";

export async function startProxy(targetPort) {
  const open = new Set();
  let refuseUntil = 0;
  let frozen = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    if (Date.now() < refuseUntil) return client.destroy();
    accepted += 1;
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = { client, upstream };
    open.add(pair);
    const forward = (from, to) =>
      from.on("data", (data) => {
        if (!frozen) to.write(data);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    get accepted() {
      return accepted;
    },
    /** Destroys every open connection and refuses new ones for `refuseMs`; returns how many were cut. */
    cut(refuseMs = 0) {
      refuseUntil = Date.now() + refuseMs;
      const cut = open.size;
      for (const { client, upstream } of [...open]) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      return cut;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    close() {
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
