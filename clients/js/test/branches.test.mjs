// Branches: regenerate and editMessage make siblings, branch() walks one of them, sendMessage({ parentId })
// continues an older variant; every message carries parentId and siblingIds.
import assert from "node:assert/strict";
import { test } from "node:test";

import { client, script } from "./support/env.mjs";

async function answered(c, message) {
  const final = await c.stream(message.responseStreamId, { drive: true }).done;
  assert.equal(final.status, "DONE");
  return final;
}

test("regenerate and edit make variants that branch() shows and sendMessage({ parentId }) continues", async () => {
  const c = client();
  try {
    const first = await c.sendMessage(script("root").prompt);
    assert.equal(first.parentId, null);
    assert.deepEqual(first.siblingIds, [first.id]);
    await answered(c, first);
    const asked = await c.sendMessage(script("asked").prompt, { threadId: first.threadId });
    assert.equal(asked.parentId, first.id);
    assert.equal((await answered(c, asked)).text, script("asked").text);

    const again = await c.regenerate(asked.id);
    assert.equal(again.prompt, asked.prompt);
    assert.equal(again.parentId, first.id);
    assert.equal(again.response.status, "PENDING");
    assert.deepEqual(again.siblingIds, [asked.id, again.id]);
    await answered(c, again);

    const edited = await c.editMessage(asked.id, script("edited").prompt);
    assert.equal(edited.prompt, script("edited").prompt);
    assert.deepEqual(edited.siblingIds, [asked.id, again.id, edited.id]);
    assert.equal((await answered(c, edited)).text, script("edited").text);

    // By default the branch of the newest message: the edit.
    const newest = await c.branch(first.threadId);
    assert.deepEqual(newest.map((m) => m.id), [first.id, edited.id]);
    assert.deepEqual(newest[1].siblingIds, [asked.id, again.id, edited.id]);
    // The first variant is still there, with its answer.
    const old = await c.branch(first.threadId, { leafId: asked.id });
    assert.deepEqual(old.map((m) => m.id), [first.id, asked.id]);
    assert.equal(old[1].response.text, script("asked").text);
    assert.deepEqual((await c.branch(first.threadId, { leafId: asked.id, last: 1 })).map((m) => m.id), [asked.id]);

    // Continue the first variant, not the newest one.
    const follow = await c.sendMessage(script("follow").prompt, { threadId: first.threadId, parentId: asked.id });
    assert.equal(follow.parentId, asked.id);
    await answered(c, follow);
    assert.deepEqual((await c.branch(first.threadId)).map((m) => m.id), [first.id, asked.id, follow.id]);
  } finally {
    c.dispose();
  }
});

test("a parentId without a threadId, or a leafId of no message of the thread, is BAD_USER_INPUT", async () => {
  const c = client();
  try {
    const first = await c.sendMessage(script("lonely").prompt);
    await assert.rejects(c.sendMessage("x", { parentId: first.id }), (e) => e.code === "BAD_USER_INPUT");
    const other = await c.sendMessage(script("lonely").prompt);
    await assert.rejects(c.branch(first.threadId, { leafId: other.id }), (e) => e.code === "BAD_USER_INPUT");
    await c.cancel(first.responseStreamId);
    await c.cancel(other.responseStreamId);
  } finally {
    c.dispose();
  }
});
