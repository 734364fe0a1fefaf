// Parts against a real server (started by tests/e2e/test_js_client.py with the fake model and one tool): every
// answer here reasons, calls the `add` tool, gets its result, then answers with text and usage. Every copy must end
// with exactly the parts the server stored (its `streamBody` query), and a dropped socket resumes by cursor.
import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";

import { startProxy } from "./support/proxy.mjs";
import { client, SCRIPTS, SERVER, waitFor } from "./support/env.mjs";

const SERVER_PORT = Number(new URL(SERVER).port);
const { answers, expected, rounds, streams: perRound } = SCRIPTS.parts;
let next = 0;

/** The prompt of an answer no test has used yet (each one's tool loop is scripted once). */
function prompt() {
  assert.ok(next < answers.length, "not enough scripted answers");
  return answers[next++];
}

/** Collects a stream's snapshots, checking that each part only grows toward what `expected` says. A problem is
 * kept, not thrown (a listener's exception would stop the stream): `checked(snapshots)` throws the first one. */
function recordParts(stream) {
  const snapshots = [];
  snapshots.problems = [];
  stream.subscribe((snapshot) => {
    try {
      const last = snapshots.at(-1);
      for (const [i, part] of snapshot.parts.entries()) {
        const whole = expected[i];
        assert.ok(whole, `an unexpected part ${JSON.stringify(part)}`);
        assert.deepEqual({ ...part, text: "" }, { ...whole, text: "" });
        assert.ok(whole.text.startsWith(part.text), `part ${i} ${JSON.stringify(part.text)} is not a prefix`);
        const before = last?.parts[i];
        if (before) assert.ok(part.text.startsWith(before.text), `part ${i} went back`);
      }
      if (last) assert.ok(snapshot.parts.length >= last.parts.length, "a part went away");
    } catch (error) {
      snapshots.problems.push(error);
    }
    snapshots.push(snapshot);
  });
  return snapshots;
}

function checked(snapshots) {
  if (snapshots.problems.length) throw snapshots.problems[0];
  return snapshots;
}

/** Every final copy holds exactly what the server stored: parts, text, offset, usage and cursor (read straight
 * from the server, not through a proxy that may still refuse connections). */
async function assertStored(streamId, finals, what) {
  const direct = client();
  const body = await direct.body(streamId).finally(() => direct.dispose());
  assert.equal(body.status, "DONE", what);
  assert.deepEqual(body.parts, expected, what);
  for (const final of finals) {
    assert.equal(final.status, "DONE", what);
    assert.deepEqual(final.parts, body.parts, what);
    assert.equal(final.text, body.text, what);
    assert.equal(final.offset, body.offset, what);
    assert.deepEqual(final.usage, body.usage, what);
    assert.equal(final.cursor, body.cursor, what);
  }
  return body;
}

/** A WebSocket that remembers every subscription it sent. */
function recordingSocket(sent) {
  return class extends WebSocket {
    send(data) {
      const message = JSON.parse(data);
      if (message.type === "subscribe") sent.push(message.payload);
      super.send(data);
    }
  };
}

test("reasoning, a tool call and its result, then text and usage: driver and observer end with the stored parts", async () => {
  const owner = client();
  const other = client();
  try {
    const message = await owner.sendMessage(prompt());
    const driver = owner.stream(message.responseStreamId, { drive: true });
    const driven = recordParts(driver);
    await waitFor(() => driven.at(-1).parts.length > 0, 10_000, "the first part");
    const observer = other.stream(message.responseStreamId);
    const observed = recordParts(observer);
    const finals = await Promise.all([driver.done, observer.done]);
    const body = await assertStored(message.responseStreamId, finals, "driver and observer");
    assert.deepEqual(body.usage, SCRIPTS.parts.usage);
    assert.deepEqual(
      body.parts.map((p) => p.kind),
      ["REASONING", "TOOL_CALL", "TOOL_RESULT", "TEXT"],
    );
    // The driver saw the parts stream in: reasoning before the tool call, the call before the text.
    const kinds = driven.map((s) => s.parts.at(-1)?.kind).filter(Boolean);
    assert.deepEqual([...new Set(kinds)], ["REASONING", "TOOL_CALL", "TOOL_RESULT", "TEXT"]);
    assert.ok(driven.filter((s) => s.parts.at(-1)?.kind === "REASONING").length > 3, "reasoning streamed");
    for (const snapshots of [driven, observed]) assert.equal(checked(snapshots).filter((s) => s.status === "DONE").length, 1);
    // A follower given the finished body starts final: nothing is asked of the server.
    const late = owner.stream(message.responseStreamId, { initial: body });
    assert.deepEqual((await late.done).parts, body.parts);
  } finally {
    owner.dispose();
    other.dispose();
  }
});

test("a socket cut mid-reasoning and again mid-text resumes by cursor: nothing repeats, nothing is lost", async () => {
  const proxy = await startProxy(SERVER_PORT);
  const sent = [];
  const driverClient = client({ url: proxy.url, WebSocket: recordingSocket(sent) });
  const observerClient = client({ url: proxy.url, WebSocket: recordingSocket(sent) });
  try {
    const message = await driverClient.sendMessage(prompt());
    const driver = driverClient.stream(message.responseStreamId, { drive: true });
    const observer = observerClient.stream(message.responseStreamId);
    const driven = recordParts(driver);
    const observed = recordParts(observer);
    const midPart = (kind) => (s) => s.parts.length > 0 && s.parts.at(-1).kind === kind && s.parts.at(-1).text.length > 0;
    await waitFor(() => midPart("REASONING")(driven.at(-1)) && midPart("REASONING")(observed.at(-1)), 10_000, "mid-reasoning");
    const reasoningAt = driven.at(-1).parts.at(-1).text;
    assert.ok(proxy.cut(300) >= 2, "both sockets were open and cut");
    assert.ok(expected[0].text.length > reasoningAt.length, "the cut came before the reasoning's end");
    await waitFor(() => midPart("TEXT")(driven.at(-1)) && driven.at(-1).connection === "open", 10_000, "mid-text");
    assert.equal(driven.at(-1).status, "STREAMING", "the second cut comes mid-answer too");
    proxy.cut(300);
    const finals = await Promise.all([driver.done, observer.done]);
    await assertStored(message.responseStreamId, finals, "after two cuts");
    for (const snapshots of [driven, observed]) assert.ok(checked(snapshots).some((s) => s.connection === "reconnecting"));
    // The first subscriptions start from nothing; every later one, from the cursor the copy held.
    const forStream = sent.filter((p) => p.variables.streamId === message.responseStreamId);
    const resumed = forStream.filter((p) => p.variables.fromCursor);
    assert.ok(resumed.length >= 4, `${resumed.length} subscriptions resumed by cursor: ${JSON.stringify(forStream)}`);
    for (const payload of resumed) assert.match(payload.query, /streamBody\(streamId: \$streamId, fromOffset/);
    assert.equal(forStream.length - resumed.length, 2, "only the first two subscriptions had no cursor");
  } finally {
    driverClient.dispose();
    observerClient.dispose();
    await proxy.close();
  }
});

test("random cuts at random moments, over many streams at once: every copy ends with exactly the stored parts", async (t) => {
  const seed = Number(process.env.PERSISTREAM_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let state = seed;
  const random = () => {
    // mulberry32: small, seedable, good enough to spread cut moments
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  try {
    for (let round = 0; round < Number(rounds); round += 1) {
      const proxy = await startProxy(SERVER_PORT);
      const drivers = client({ url: proxy.url, retryDelay: { min: 20, max: 200 } });
      const observers = client({ url: proxy.url, retryDelay: { min: 20, max: 200 } });
      try {
        const messages = await Promise.all(Array.from({ length: Number(perRound) }, () => drivers.sendMessage(prompt())));
        const streams = messages.flatMap((m) => [drivers.stream(m.responseStreamId, { drive: true }), observers.stream(m.responseStreamId)]);
        const records = streams.map(recordParts);
        const finished = Promise.all(streams.map((s) => s.done));
        const cuts = 1 + Math.floor(random() * 4);
        for (let i = 0; i < cuts; i += 1) {
          await new Promise((r) => setTimeout(r, 50 + random() * 600));
          proxy.cut(random() * 400);
        }
        const finals = await finished;
        records.forEach(checked);
        for (const [i, m] of messages.entries()) {
          await assertStored(m.responseStreamId, finals.slice(2 * i, 2 * i + 2), `stream ${i} of round ${round}`);
        }
      } finally {
        drivers.dispose();
        observers.dispose();
        await proxy.close();
      }
    }
  } catch (error) {
    t.diagnostic(`seed ${seed} (rerun with PERSISTREAM_TEST_SEED=${seed})`);
    console.error(`random cuts over parts failed with seed ${seed}`);
    throw error;
  }
});
