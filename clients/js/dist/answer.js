// One answer, kept exactly as the server has it from the events of one subscription after another.
//
// Invariants:
// - `text` and `offset` are the TEXT parts, as before parts existed: an answer with no other part gives exactly the
//   text and offsets it always gave. Offsets come from the server and are only handed back; the one place this
//   client counts code points is the shorter-final cut below (JavaScript strings count UTF-16 units, the server
//   counts code points).
// - For every part, the concatenation of the deltas received for its index is its text (after what the state
//   started with); a delta for an index not held yet starts that part, and a part's kind, toolName, toolCallId and
//   isError are those of its first delta, never changed after.
// - States are immutable: a new state shares every part an event did not touch, so a consumer can compare parts
//   by identity.
import { isFinal } from "./types.js";
export function codePointLength(text) {
    let count = 0;
    for (const _ of text)
        count += 1;
    return count;
}
/** The first `length` code points of `text` (an astral emoji is two UTF-16 units and one code point). */
export function sliceCodePoints(text, length) {
    let units = 0;
    let points = 0;
    for (const char of text) {
        if (points === length)
            break;
        units += char.length;
        points += 1;
    }
    return text.slice(0, units);
}
/** `parts` with `deltas` applied (the same array when there are none). */
export function applyPartDeltas(parts, deltas) {
    if (deltas.length === 0)
        return parts;
    const next = parts.slice();
    for (const delta of deltas) {
        // Only the last part grows, so a delta is nearly always for the last part or the one after it.
        let at = next.length - 1;
        while (at >= 0 && next[at].index > delta.index)
            at -= 1;
        const held = at >= 0 ? next[at] : undefined;
        if (held && held.index === delta.index) {
            if (delta.delta)
                next[at] = { ...held, text: held.text + delta.delta };
        }
        else {
            next.splice(at + 1, 0, {
                index: delta.index,
                kind: delta.kind,
                text: delta.delta,
                toolName: delta.toolName ?? null,
                toolCallId: delta.toolCallId ?? null,
                isError: Boolean(delta.isError),
            });
        }
    }
    return next;
}
/** `parts` cut where the TEXT parts reach `length` code points: what an answer that ended shorter than shown kept
 * (it is stored in order, so whatever came after the lost text was lost with it). */
export function cutParts(parts, length) {
    const kept = [];
    let left = length;
    for (const part of parts) {
        if (part.kind !== "TEXT") {
            kept.push(part);
            continue;
        }
        const size = codePointLength(part.text);
        if (size <= left) {
            kept.push(part);
            left -= size;
            continue;
        }
        if (left > 0)
            kept.push({ ...part, text: sliceCodePoints(part.text, left) });
        break;
    }
    return kept;
}
/** The state after `event`. A final state never changes again. */
export function applyEvent(state, event) {
    if (isFinal(state.status))
        return state;
    let text = state.text + event.delta;
    // A state made by code written before parts existed has none: it starts from no part.
    let parts = applyPartDeltas(state.parts ?? [], event.parts ?? []);
    // A stream whose process died after its driver saw tokens it never persisted ends shorter than what was
    // shown: its final event carries the final length, and the copy is cut to it.
    if (isFinal(event.status) && event.offset < state.offset + codePointLength(event.delta)) {
        text = sliceCodePoints(text, event.offset);
        parts = cutParts(parts, event.offset);
    }
    return {
        text,
        offset: event.offset,
        status: event.status,
        error: event.error ?? null,
        parts,
        cursor: event.cursor ?? state.cursor,
        usage: event.usage ?? state.usage,
    };
}
