// persistream-client/ai-sdk against a real server (started by tests/e2e/test_js_client.py with the fake model and
// the `add` tool): every chunk the transport emits is checked against the AI SDK's own `uiMessageChunkSchema`, and
// the AI SDK's own `readUIMessageStream` must build from them the message the server stored.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { readUIMessageStream, uiMessageChunkSchema } from "ai";
import WebSocket from "ws";

import { PersistreamChatTransport, toUIMessages } from "../dist/ai-sdk.js";
import { client, SCRIPTS, script } from "./support/env.mjs";

const schema = uiMessageChunkSchema();
const { answers, expected, usage } = SCRIPTS.parts;
let nextToolAnswer = 0;

function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v), removeItem: (k) => items.delete(k) };
}

function user(text, id = randomUUID()) {
  return { id, role: "user", parts: [{ type: "text", text }] };
}

function send(transport, chatId, messages, extra = {}) {
  return transport.sendMessages({ chatId, messages, trigger: "submit-message", messageId: undefined, abortSignal: undefined, ...extra });
}

/** Reads chunks, validating each with the AI SDK's schema, until the stream ends or `stop(chunks)` says so. */
async function collect(stream, stop = () => false) {
  const chunks = [];
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { chunks, reader };
    const checked = await schema.validate(value);
    assert.ok(checked.success, `not a UI message chunk: ${JSON.stringify(value)}: ${checked.error}`);
    chunks.push(value);
    if (stop(chunks)) return { chunks, reader };
  }
}

/** The message the AI SDK builds from these chunks. */
async function built(chunks) {
  const stream = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  let last;
  for await (const message of readUIMessageStream({ stream, onError: (e) => assert.fail(e) })) last = message;
  return last;
}

/** The stream's stored body once its status is `status` (polled for up to 5 s). */
async function stored(c, streamId, status) {
  let body = await c.body(streamId);
  for (let i = 0; i < 50 && body.status !== status; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    body = await c.body(streamId);
  }
  assert.equal(body.status, status);
  return body;
}

const textOf = (chunks) => chunks.filter((c) => c.type === "text-delta").map((c) => c.delta).join("");
const shownText = (message) => message.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
const metaOf = (chunks) => chunks.find((c) => c.type === "start").messageMetadata;

test("an answer that reasons and calls a tool: valid chunks, the stored parts, usage as metadata, one thread", async () => {
  const c = client();
  const threads = [];
  const transport = new PersistreamChatTransport({ client: c, storage: null, onThread: (t, chat) => threads.push([t, chat]) });
  try {
    const chatId = `not-a-thread-${randomUUID()}`;
    const first = user(answers[nextToolAnswer++]);
    const { chunks } = await collect(await send(transport, chatId, [first]));
    const types = chunks.map((chunk) => chunk.type);
    assert.equal(types[0], "start");
    assert.equal(types.at(-1), "finish");
    for (const type of ["reasoning-start", "reasoning-delta", "reasoning-end", "tool-input-start", "tool-input-delta",
      "tool-input-available", "tool-output-available", "text-start", "text-delta", "text-end"]) {
      assert.ok(types.includes(type), `no ${type} chunk in ${types}`);
    }
    const message = await built(chunks);
    const [reasoning, call, result, text] = expected;
    assert.deepEqual(message.parts.map((p) => p.type), ["reasoning", "dynamic-tool", "text"]);
    assert.equal(message.parts[0].text, reasoning.text);
    assert.equal(message.parts[1].toolName, call.toolName);
    assert.equal(message.parts[1].toolCallId, call.toolCallId);
    assert.equal(message.parts[1].state, "output-available");
    assert.deepEqual(message.parts[1].input, JSON.parse(call.text));
    assert.equal(message.parts[1].output, result.text);
    assert.equal(message.parts[2].text, text.text);
    assert.equal(message.metadata.status, "DONE");
    assert.deepEqual(message.metadata.usage, usage);
    const { threadId, messageId, streamId } = message.metadata;
    assert.equal(message.id, streamId);
    assert.deepEqual(threads, [[threadId, chatId]], "a chat id that names no thread starts one, told once");

    // The stored answer, as toUIMessages shows it, is what the chunks built.
    const stored = toUIMessages(await c.branch(threadId));
    assert.deepEqual(stored.map((m) => m.role), ["user", "assistant"]);
    assert.deepEqual(stored[1].parts.map((p) => p.type), message.parts.map((p) => p.type));
    assert.equal(shownText(stored[1]), text.text);

    // The next prompt of the same chat continues that thread, after that message.
    const second = user(answers[nextToolAnswer++]);
    const next = await collect(await send(transport, chatId, [first, message, second]));
    const after = metaOf(next.chunks);
    assert.equal(after.threadId, threadId);
    const branch = await c.branch(threadId);
    assert.deepEqual(branch.map((m) => m.id), [messageId, after.messageId]);
    assert.equal(threads.length, 1);
  } finally {
    c.dispose();
  }
});

test("stop() (the abort signal) cancels the answer on the server: CANCELLED, its text kept", async () => {
  const c = client();
  const transport = new PersistreamChatTransport({ client: c, storage: null });
  try {
    const abort = new AbortController();
    const { chunks } = await collect(
      await send(transport, "", [user(script("stop").prompt)], { abortSignal: abort.signal }),
      (got) => textOf(got).length > 20,
    );
    abort.abort();
    const { streamId } = metaOf(chunks);
    const body = await stored(c, streamId, "CANCELLED");
    assert.ok(body.text.startsWith(textOf(chunks)) && body.text.length < script("stop").text.length, body.text);
  } finally {
    c.dispose();
  }
});

test("a reader that goes away leaves the answer running; reconnecting shows it whole, once, from the held cursor or as a replay", async () => {
  const storage = memoryStorage();
  const sent = [];
  const recording = class extends WebSocket {
    send(data) {
      const message = JSON.parse(data);
      if (message.type === "subscribe") sent.push(message.payload);
      super.send(data);
    }
  };
  const c1 = client();
  const c2 = client({ WebSocket: recording });
  const c3 = client();
  try {
    const before = new PersistreamChatTransport({ client: c1, storage });
    const first = await collect(await send(before, "", [user(script("resume").prompt)]), (got) => textOf(got).length > 60);
    await new Promise((resolve) => setTimeout(resolve, 300)); // long enough for the transport to keep its place
    await first.reader.cancel(); // the page goes away: a disconnect, not a stop
    const { threadId, streamId } = metaOf(first.chunks);
    assert.equal((await c1.body(streamId)).status, "STREAMING");

    // Reopened with the same storage and the thread as the chat's id: from the cursor it held.
    const after = new PersistreamChatTransport({ client: c2, storage });
    assert.equal(after.resumeStreamIsReplay, true);
    const resumed = after.reconnectToStream({ chatId: threadId });
    // And elsewhere, with nothing held: the live answer found in the thread, replayed from its start.
    const elsewhere = new PersistreamChatTransport({ client: c3, storage: null });
    const replayed = elsewhere.reconnectToStream({ chatId: threadId });
    const [a, b] = await Promise.all([collect(await resumed), collect(await replayed)]);
    const stored = await c1.body(streamId);
    assert.equal(stored.status, "DONE");
    assert.equal(stored.text, script("resume").text);
    for (const { chunks } of [a, b]) {
      assert.equal(textOf(chunks), stored.text, "the whole answer, each character once");
      assert.equal(chunks.filter((chunk) => chunk.type === "start").length, 1);
      assert.equal(shownText(await built(chunks)), stored.text);
      assert.equal(metaOf(chunks).streamId, streamId);
    }
    const follow = sent.find((p) => p.variables?.streamId === streamId);
    assert.ok(follow?.variables.fromCursor, `the held cursor was not used: ${JSON.stringify(follow)}`);
    // Once the answer is over there is nothing to resume.
    assert.equal(await elsewhere.reconnectToStream({ chatId: threadId }), null);
    assert.equal(await after.reconnectToStream({ chatId: threadId }), null);
  } finally {
    for (const c of [c1, c2, c3]) c.dispose();
  }
});

test("stop() on a resumed answer cancels it; a resume abandoned before anything was read leaves it running", async () => {
  const c = client();
  try {
    const sender = new PersistreamChatTransport({ client: c, storage: null });
    const first = await collect(await send(sender, "", [user(script("resume-stop").prompt)]), (got) => textOf(got).length > 20);
    await first.reader.cancel();
    const { threadId, streamId } = metaOf(first.chunks);
    const resumer = new PersistreamChatTransport({ client: c, storage: null });

    // Aborted before the page read from it (React's StrictMode unmounts once; useChat stops what is in flight).
    const abandon = new AbortController();
    const abandoned = await resumer.reconnectToStream({ chatId: threadId, abortSignal: abandon.signal });
    abandon.abort();
    await collect(abandoned); // it ends
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await c.body(streamId)).status, "STREAMING");

    // Read, then stopped: the answer is cancelled on the server, its text kept.
    const stop = new AbortController();
    const resumed = await collect(
      await resumer.reconnectToStream({ chatId: threadId, abortSignal: stop.signal }),
      (got) => textOf(got).length > 60,
    );
    stop.abort();
    const body = await stored(c, streamId, "CANCELLED");
    assert.ok(body.text.startsWith(textOf(resumed.chunks)), body.text);
    assert.ok(body.text.length < script("resume-stop").text.length);
  } finally {
    c.dispose();
  }
});

test("regenerate() and an edited prompt become siblings of the message", async () => {
  const c = client();
  const transport = new PersistreamChatTransport({ client: c, storage: null });
  try {
    const asked = user(script("root").prompt);
    const { chunks } = await collect(await send(transport, "", [asked]));
    const answer = await built(chunks);
    const { threadId, messageId } = answer.metadata;

    const again = await collect(
      await transport.sendMessages({ chatId: "", messages: [asked], trigger: "regenerate-message", messageId: answer.id, abortSignal: undefined }),
    );
    assert.equal(textOf(again.chunks), script("root").text);
    const regenerated = metaOf(again.chunks).messageId;
    let newest = (await c.branch(threadId)).at(-1);
    assert.deepEqual(newest.siblingIds, [messageId, regenerated]);

    const edited = user(script("edited").prompt, asked.id);
    const edit = await collect(await send(transport, "", [edited], { messageId: asked.id }));
    assert.equal(textOf(edit.chunks), script("edited").text);
    newest = (await c.branch(threadId)).at(-1);
    assert.equal(newest.id, metaOf(edit.chunks).messageId);
    assert.equal(newest.prompt, script("edited").prompt);
    assert.deepEqual(newest.siblingIds, [messageId, regenerated, newest.id]);
  } finally {
    c.dispose();
  }
});

test("an answer that fails ends with an error chunk", async () => {
  const c = client();
  const transport = new PersistreamChatTransport({ client: c, storage: null });
  try {
    const { chunks } = await collect(await send(transport, "", [user(script("fail").prompt)]));
    assert.equal(chunks.at(-1).type, "error");
    assert.ok(chunks.at(-1).errorText);
    assert.equal(chunks.filter((chunk) => chunk.type === "finish").length, 0);
  } finally {
    c.dispose();
  }
});

test("a chat id that is a thread id the caller cannot see is NOT_FOUND, and nothing is stored", async () => {
  const c = client();
  const transport = new PersistreamChatTransport({ client: c, storage: null });
  try {
    const threadCount = async () => (await c.request("{ threads(last: 100) { id } }")).threads.length;
    const before = await threadCount();
    // A thread id this caller has no thread under: another identity's answers exactly as one that does not exist.
    await assert.rejects(send(transport, randomUUID(), [user("Is this your thread?")]), (error) => {
      assert.equal(error.code, "NOT_FOUND");
      return true;
    });
    assert.equal(await threadCount(), before, "a refused send stored a thread");
  } finally {
    c.dispose();
  }
});
