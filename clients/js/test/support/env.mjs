// What the pytest side (tests/e2e/test_js_client.py) hands these tests: the server, and the scripted answers the
// fake model gives for each marker.
import assert from "node:assert/strict";
import WebSocket from "ws";

import { createClient } from "../../dist/index.js";

export const SERVER = process.env.PERSISTREAM_TEST_URL;
export const SCRIPTS = JSON.parse(process.env.PERSISTREAM_TEST_SCRIPTS ?? "{}");
assert.ok(SERVER, "PERSISTREAM_TEST_URL is not set: run these tests through pytest (tests/e2e/test_js_client.py)");

/** A client on Node 20 (no global WebSocket: the `ws` package, through the WebSocket option). */
export function client(options = {}) {
  return createClient({ url: SERVER, WebSocket, retryDelay: { min: 100, max: 1000 }, ...options });
}

/** The prompt that makes the fake model answer with script `name`, and the text it will answer. */
export function script(name) {
  const found = SCRIPTS[name];
  assert.ok(found, `no script ${name} was registered`);
  return found;
}

/** Collects every snapshot of a stream until it ends; checks each text is a prefix of the next as it goes. */
export function record(stream) {
  const snapshots = [];
  stream.subscribe((snapshot) => {
    const last = snapshots.at(-1);
    if (last) assert.ok(snapshot.text.startsWith(last.text), `snapshot ${JSON.stringify(snapshot.text)} does not extend ${JSON.stringify(last.text)}`);
    snapshots.push(snapshot);
  });
  return snapshots;
}

export function codePoints(text) {
  return [...text].length;
}

export function waitFor(condition, timeoutMs = 10_000, what = "condition") {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`${what} not met within ${timeoutMs} ms`));
      setTimeout(poll, 5);
    };
    poll();
  });
}
