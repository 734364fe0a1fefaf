// jwt mode: the owner's token goes as a header over HTTP and in connection_init over the socket; a reader with
// only the share token and no credential follows the live answer; a socket with a bad token is refused, once.
import assert from "node:assert/strict";
import { test } from "node:test";

import { client, codePoints, record, script, waitFor } from "./support/env.mjs";

const TOKEN = process.env.PERSISTREAM_TEST_TOKEN;
const auth = { Authorization: `Bearer ${TOKEN}` };

test("a share reader with no credential follows the owner's live answer exactly", async () => {
  assert.ok(TOKEN, "PERSISTREAM_TEST_TOKEN is not set");
  const { prompt, text } = script("shared");
  const owner = client({ headers: auth, connectionParams: auth });
  const reader = client();
  try {
    const message = await owner.sendMessage(prompt);
    const driver = owner.stream(message.responseStreamId, { drive: true });
    const driven = record(driver);
    await waitFor(() => driven.at(-1).text.length > 0, 10_000, "first text");
    const { shareThread } = await owner.request(
      "mutation Share($threadId: ID!) { shareThread(threadId: $threadId) { token } }",
      { threadId: message.threadId },
    );
    const followed = reader.stream(message.responseStreamId, { shareToken: shareThread.token });
    const seen = record(followed);
    const [d, r] = await Promise.all([driver.done, followed.done]);
    assert.equal(d.text, text);
    assert.equal(r.text, text);
    assert.equal(r.offset, codePoints(text));
    // Live: the reader saw the answer grow while it was being written, not only its end.
    assert.ok(seen.filter((s) => s.status === "STREAMING" && s.text.length > 0).length >= 2, JSON.stringify(seen.map((s) => s.text.length)));
    assert.equal((await reader.body(message.responseStreamId, { shareToken: shareThread.token })).text, text);
    // The share token reads; it cannot cancel, and without it the reader finds nothing.
    await assert.rejects(reader.cancel(message.responseStreamId), (e) => e.code === "UNAUTHENTICATED" || e.code === "NOT_FOUND");
  } finally {
    owner.dispose();
    reader.dispose();
  }
});

test("a socket whose credential is refused fails the stream with UNAUTHENTICATED instead of retrying", async () => {
  const bad = { Authorization: "Bearer not-a-token" };
  const c = client({ headers: auth, connectionParams: bad });
  try {
    const message = await c.sendMessage(script("refused").prompt);
    const stream = c.stream(message.responseStreamId, { drive: true });
    await assert.rejects(stream.done, (e) => e.code === "UNAUTHENTICATED");
    // Nothing drove it: still PENDING for the owner to drive properly.
    assert.equal((await c.body(message.responseStreamId)).status, "PENDING");
    await c.cancel(message.responseStreamId);
  } finally {
    c.dispose();
  }
});
