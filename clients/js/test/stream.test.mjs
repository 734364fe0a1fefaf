// The client against a real persistream server (started by tests/e2e/test_js_client.py with the fake model).
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";

import { createClient } from "../dist/index.js";
import { startProxy } from "./support/proxy.mjs";
import { client, codePoints, record, script, SCRIPTS, SERVER, waitFor } from "./support/env.mjs";

const SERVER_PORT = Number(new URL(SERVER).port);

async function storedBody(c, streamId) {
  return c.body(streamId);
}

test("driver and observers get exactly the stored text, each snapshot extending the last", async () => {
  const { prompt, text } = script("basic");
  const owner = client();
  const other = client();
  try {
    const message = await owner.sendMessage(prompt);
    assert.equal(message.response.status, "PENDING");
    const driver = owner.stream(message.responseStreamId, { drive: true });
    const driven = record(driver);
    await waitFor(() => driven.some((s) => s.text.length > 0), 10_000, "first text");
    // One observer on the driver's own socket, one on another client's.
    const sameSocket = record(owner.stream(message.responseStreamId));
    const observer = other.stream(message.responseStreamId);
    const observed = record(observer);
    const finals = await Promise.all([driver.done, observer.done]);
    const body = await storedBody(owner, message.responseStreamId);
    assert.equal(body.status, "DONE");
    assert.equal(body.text, text);
    // A text-only answer: its one TEXT part is the text, and the last cursor is the body's.
    const part = { index: 0, kind: "TEXT", text, toolName: null, toolCallId: null, isError: false };
    assert.deepEqual(body.parts, [part]);
    const whole = { text, offset: codePoints(text), status: "DONE", error: null, parts: [part], cursor: body.cursor, usage: null };
    for (const snapshot of finals) assert.deepEqual({ ...snapshot, connection: undefined }, { ...whole, connection: undefined });
    await waitFor(() => sameSocket.at(-1)?.status === "DONE");
    for (const snapshots of [driven, sameSocket, observed]) {
      assert.equal(snapshots.at(-1).text, body.text);
      assert.equal(snapshots.at(-1).offset, body.offset);
      assert.equal(snapshots.filter((s) => s.status === "DONE").length, 1, "one final snapshot");
    }
    // The driver streamed: it saw the text grow over several snapshots, not all at once at the end.
    assert.ok(new Set(driven.map((s) => s.text)).size > 3, `driver saw ${driven.length} snapshots`);
    assert.equal(driven[0].connection, "connecting");
    assert.ok(driven.some((s) => s.connection === "open"));
  } finally {
    owner.dispose();
    other.dispose();
  }
});

test("offsets count code points: astral emoji are one each, though two UTF-16 units", async () => {
  const { prompt, text } = script("emoji");
  assert.ok(text.length > codePoints(text), "the script has astral characters");
  const c = client();
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    // An observer that joins late resumes from code-point offsets the server chose mid-text.
    await waitFor(() => snapshots.at(-1).offset >= 3);
    const late = record(c.stream(message.responseStreamId, { initial: { ...snapshots.at(-1) } }));
    const final = await driver.done;
    assert.equal(final.text, text);
    assert.equal(final.offset, codePoints(text));
    for (const s of snapshots) assert.equal(s.offset, codePoints(s.text), `offset of ${JSON.stringify(s.text)}`);
    await waitFor(() => late.at(-1)?.status === "DONE");
    assert.equal(late.at(-1).text, text);
    const body = await c.body(message.responseStreamId);
    assert.equal(body.text, text);
    assert.equal(body.offset, codePoints(text));
  } finally {
    c.dispose();
  }
});

test("through a proxy that cuts every socket twice and refuses reconnects for a second, nothing repeats or is lost", async () => {
  const { prompt, text } = script("cut");
  const proxy = await startProxy(SERVER_PORT);
  const driverClient = client({ url: proxy.url });
  const observerClient = client({ url: proxy.url });
  try {
    const message = await driverClient.sendMessage(prompt);
    const driver = driverClient.stream(message.responseStreamId, { drive: true });
    const observer = observerClient.stream(message.responseStreamId);
    const driven = record(driver);
    const observed = record(observer);
    await waitFor(() => driven.at(-1).text.length >= text.length / 5 && observed.at(-1).text.length > 0, 10_000, "a fifth of the answer");
    assert.ok(proxy.cut(1000) >= 2, "both sockets were open and cut");
    await waitFor(() => driven.at(-1).connection === "reconnecting", 5000, "the driver noticed the drop");
    await waitFor(() => driven.at(-1).connection === "open" && observed.at(-1).connection === "open", 10_000, "both reconnected");
    const before = driven.at(-1).text.length;
    await waitFor(() => driven.at(-1).text.length > before || driven.at(-1).status !== "STREAMING", 10_000, "more text");
    assert.equal(driven.at(-1).status, "STREAMING", "the second cut comes mid-answer too");
    assert.ok(proxy.cut(1000) >= 2, "the second cut found both sockets");
    const [d, o] = await Promise.all([driver.done, observer.done]);
    const body = await driverClient.body(message.responseStreamId);
    assert.equal(body.text, text);
    assert.equal(d.text, text);
    assert.equal(o.text, text);
    assert.equal(d.status, "DONE");
    assert.equal(o.status, "DONE");
    assert.ok(proxy.accepted >= 4, `the clients reconnected (${proxy.accepted} connections)`);
    for (const snapshots of [driven, observed]) {
      assert.ok(snapshots.some((s) => s.connection === "reconnecting"));
      for (const s of snapshots) assert.ok(text.startsWith(s.text), `showed ${JSON.stringify(s.text)}`);
    }
  } finally {
    driverClient.dispose();
    observerClient.dispose();
    await proxy.close();
  }
});

test("a socket that goes silent without closing is found by the watchdog and replaced", async () => {
  const { prompt, text } = script("stall");
  const proxy = await startProxy(SERVER_PORT);
  const c = client({ url: proxy.url, keepAlive: 300, stallTimeout: 1000 });
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    await waitFor(() => snapshots.at(-1).text.length > 0, 10_000, "first text");
    proxy.freeze();
    const frozenAt = Date.now();
    await waitFor(() => snapshots.at(-1).connection === "reconnecting", 5000, "the stall was noticed");
    assert.ok(Date.now() - frozenAt < 3000, "within the stall timeout");
    proxy.cut(); // the frozen connections go; new ones flow again
    proxy.thaw();
    const final = await driver.done;
    assert.equal(final.text, text);
    assert.equal((await c.body(message.responseStreamId)).text, text);
  } finally {
    c.dispose();
    await proxy.close();
  }
});

test("close() only stops following: the answer finishes DONE on the server", async () => {
  const { prompt, text } = script("close");
  const c = client();
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = [];
    driver.subscribe((s) => snapshots.push(s));
    const iterated = (async () => {
      let last = null;
      for await (const s of driver) last = s;
      return last;
    })();
    await waitFor(() => snapshots.at(-1).text.length > 0, 10_000, "first text");
    driver.close();
    const count = snapshots.length;
    const last = await iterated; // the for await ends
    assert.notEqual(last?.status, "DONE");
    await assert.rejects(driver.done, (e) => e.code === "CLOSED");
    let body;
    for (let i = 0; i < 200; i += 1) {
      body = await c.body(message.responseStreamId);
      if (body.status !== "STREAMING") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(body.status, "DONE");
    assert.equal(body.text, text);
    assert.equal(snapshots.length, count, "no snapshot after close()");
  } finally {
    c.dispose();
  }
});

test("cancel() ends the answer CANCELLED, and the stream follows it there", async () => {
  const { prompt, text } = script("cancel");
  const c = client();
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    await waitFor(() => snapshots.at(-1).text.length > 5, 10_000, "some text");
    const body = await driver.cancel();
    assert.equal(body.status, "CANCELLED");
    const final = await driver.done;
    assert.equal(final.status, "CANCELLED");
    assert.ok(final.text.length < text.length && text.startsWith(final.text));
    const stored = await c.body(message.responseStreamId);
    assert.equal(stored.status, "CANCELLED");
    assert.equal(final.text, stored.text);
  } finally {
    c.dispose();
  }
});

test("many streams share one socket, and for await yields snapshots ending with the final one", async () => {
  let sockets = 0;
  class CountingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets += 1;
    }
  }
  const c = client({ WebSocket: CountingWebSocket });
  try {
    const names = ["many-1", "many-2", "many-3"];
    const messages = await Promise.all(names.map((n) => c.sendMessage(script(n).prompt)));
    const results = await Promise.all(
      messages.map(async (m) => {
        const seen = [];
        for await (const s of c.stream(m.responseStreamId, { drive: true })) seen.push(s);
        return seen;
      }),
    );
    results.forEach((seen, i) => {
      assert.equal(seen.at(-1).status, "DONE");
      assert.equal(seen.at(-1).text, script(names[i]).text);
    });
    assert.equal(sockets, 1, "one socket for every stream");
  } finally {
    c.dispose();
  }
});

test("a missing stream is refused with NOT_FOUND, not retried", async () => {
  const c = client();
  try {
    const stream = c.stream("00000000-0000-4000-8000-000000000000");
    const errors = [];
    stream.subscribe(() => {}, (e) => errors.push(e));
    await assert.rejects(stream.done, (e) => e.code === "NOT_FOUND");
    assert.equal(errors.length, 1);
  } finally {
    c.dispose();
  }
});

test("queries and mutations also go over the socket when the client is given a ws:// URL", async () => {
  const { prompt, text } = script("socket-only");
  const c = createClient({ url: SERVER.replace(/^http/, "ws"), WebSocket });
  try {
    const message = await c.sendMessage(prompt);
    const final = await c.stream(message.responseStreamId, { drive: true }).done;
    assert.equal(final.text, text);
  } finally {
    c.dispose();
  }
});

test("a close with code 1012 (server restarting) resumes from the held offset", async () => {
  const { prompt, text } = script("restart");
  let sockets = 0;
  class RestartingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets += 1;
      if (sockets !== 1) return;
      let nexts = 0;
      // The first socket closes with 1012 after a few events, as a server that restarts does.
      this.addEventListener("message", ({ data }) => {
        if (JSON.parse(data).type === "next" && ++nexts === 3) this.close(1012, "Service Restart");
      });
    }
  }
  const c = client({ WebSocket: RestartingWebSocket });
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    const final = await driver.done;
    assert.equal(final.text, text);
    assert.equal(sockets, 2, "one reconnect");
    assert.ok(snapshots.some((s) => s.connection === "reconnecting"));
  } finally {
    c.dispose();
  }
});

test("coming back online retries at once instead of waiting out the backoff", async () => {
  const { prompt, text } = script("online");
  const proxy = await startProxy(SERVER_PORT);
  // Node has no window: stand in for the browser's online event on globalThis.
  const target = new EventTarget();
  globalThis.addEventListener = target.addEventListener.bind(target);
  globalThis.removeEventListener = target.removeEventListener.bind(target);
  const c = client({ url: proxy.url, retryDelay: { min: 20_000, max: 20_000 } });
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    await waitFor(() => snapshots.at(-1).text.length > 0, 10_000, "first text");
    proxy.cut(200);
    await waitFor(() => snapshots.at(-1).connection === "reconnecting", 5000, "the drop was noticed");
    await new Promise((r) => setTimeout(r, 300));
    const woke = Date.now();
    target.dispatchEvent(new Event("online"));
    const final = await driver.done;
    assert.ok(Date.now() - woke < 10_000, "did not wait for the 20 s backoff");
    assert.equal(final.text, text);
  } finally {
    c.dispose();
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
    await proxy.close();
  }
});

test("random cuts at random moments, over many streams at once: every copy ends exactly the stored text", async (t) => {
  const seed = Number(process.env.PERSISTREAM_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let state = seed;
  const random = () => {
    // mulberry32: small, seedable, good enough to spread cut moments
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const { prompt, text } = script("random");
  const rounds = Number(SCRIPTS.random.rounds);
  const perRound = Number(SCRIPTS.random.streams);
  try {
    for (let round = 0; round < rounds; round += 1) {
      const proxy = await startProxy(SERVER_PORT);
      const drivers = client({ url: proxy.url, retryDelay: { min: 20, max: 200 } });
      const observers = client({ url: proxy.url, retryDelay: { min: 20, max: 200 } });
      try {
        const messages = await Promise.all(Array.from({ length: perRound }, () => drivers.sendMessage(prompt)));
        const streams = messages.flatMap((m) => [
          drivers.stream(m.responseStreamId, { drive: true }),
          observers.stream(m.responseStreamId),
        ]);
        const records = streams.map(record);
        const finished = Promise.all(streams.map((s) => s.done));
        const cuts = 1 + Math.floor(random() * 3);
        for (let i = 0; i < cuts; i += 1) {
          await new Promise((r) => setTimeout(r, 50 + random() * 500));
          proxy.cut(random() * 400);
        }
        const finals = await finished;
        for (const [i, final] of finals.entries()) {
          assert.equal(final.status, "DONE");
          assert.equal(final.text, text, `stream ${i} of round ${round}`);
          for (const s of records[i]) assert.ok(text.startsWith(s.text));
        }
      } finally {
        drivers.dispose();
        observers.dispose();
        await proxy.close();
      }
    }
  } catch (error) {
    t.diagnostic(`seed ${seed} (rerun with PERSISTREAM_TEST_SEED=${seed})`);
    console.error(`random cuts failed with seed ${seed}`);
    throw error;
  }
});

test("a healthy socket answers the pings and is never taken for a stalled one", async () => {
  const { prompt, text } = script("healthy");
  let sockets = 0;
  class CountingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets += 1;
    }
  }
  // A watchdog far shorter than the answer: only the pongs keep the socket alive between events.
  const c = client({ WebSocket: CountingWebSocket, keepAlive: 100, stallTimeout: 400 });
  try {
    const message = await c.sendMessage(prompt);
    const snapshots = record(c.stream(message.responseStreamId, { drive: true }));
    await waitFor(() => snapshots.at(-1).status === "DONE", 15_000, "DONE");
    assert.equal(snapshots.at(-1).text, text);
    assert.equal(sockets, 1);
    assert.ok(!snapshots.some((s) => s.connection === "reconnecting"));
  } finally {
    c.dispose();
  }
});

test("a tab that becomes visible again retries at once too", async () => {
  const { prompt, text } = script("visible");
  const proxy = await startProxy(SERVER_PORT);
  // Node has no document: a stand-in with the one property and event the client reads.
  const fakeDocument = Object.assign(new EventTarget(), { visibilityState: "hidden" });
  globalThis.document = fakeDocument;
  const c = client({ url: proxy.url, retryDelay: { min: 20_000, max: 20_000 }, idleTimeout: 0 });
  try {
    const message = await c.sendMessage(prompt);
    const driver = c.stream(message.responseStreamId, { drive: true });
    const snapshots = record(driver);
    await waitFor(() => snapshots.at(-1).text.length > 0, 10_000, "first text");
    proxy.cut(200);
    await waitFor(() => snapshots.at(-1).connection === "reconnecting", 5000, "the drop was noticed");
    await new Promise((r) => setTimeout(r, 300));
    fakeDocument.dispatchEvent(new Event("visibilitychange")); // still hidden: nothing happens
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(snapshots.at(-1).connection, "reconnecting");
    fakeDocument.visibilityState = "visible";
    const woke = Date.now();
    fakeDocument.dispatchEvent(new Event("visibilitychange"));
    const final = await driver.done;
    assert.ok(Date.now() - woke < 10_000, "did not wait for the 20 s backoff");
    assert.equal(final.text, text);
  } finally {
    c.dispose();
    delete globalThis.document;
    await proxy.close();
  }
});
