// The answer's pure state: code-point slicing and the shorter-final cut (no server needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { applyEvent, codePointLength, sliceCodePoints } from "../dist/answer.js";

const start = { text: "", offset: 0, status: "PENDING", error: null };

test("code points, not UTF-16 units", () => {
  assert.equal(codePointLength("a🎉b"), 3);
  assert.equal(sliceCodePoints("a🎉b😀c", 3), "a🎉b");
  assert.equal(sliceCodePoints("🎉🎉", 1), "🎉");
  assert.equal(sliceCodePoints("abc", 10), "abc");
});

test("events append; a final event shorter than the held text cuts it to the final length", () => {
  let state = applyEvent(start, { delta: "Hi 🎉 the", offset: 8, status: "STREAMING", error: null });
  assert.equal(state.text, "Hi 🎉 the");
  // The driver saw " rest" that was never stored; the stream ends at 6 code points.
  state = applyEvent(state, { delta: " rest", offset: 13, status: "STREAMING", error: null });
  state = applyEvent(state, { delta: "", offset: 6, status: "ERROR", error: "lost" });
  assert.deepEqual(state, { text: "Hi 🎉 t", offset: 6, status: "ERROR", error: "lost" });
  // A final state never changes again.
  assert.equal(applyEvent(state, { delta: "x", offset: 7, status: "DONE", error: null }), state);
});

test("a final event with its own delta, not shorter, is not cut", () => {
  const state = applyEvent({ ...start, text: "ab", offset: 2, status: "STREAMING" }, { delta: "c🎉", offset: 4, status: "DONE", error: null });
  assert.equal(state.text, "abc🎉");
});
