// One answer's text, kept exactly as the server has it from the events of one subscription after another.
// Offsets come from the server and are only handed back; the one place this client counts code points is the
// shorter-final cut below (JavaScript strings count UTF-16 units, the server counts code points).
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
/** The state after `event`. A final state never changes again. */
export function applyEvent(state, event) {
    if (isFinal(state.status))
        return state;
    let text = state.text + event.delta;
    // A stream whose process died after its driver saw tokens it never persisted ends shorter than what was
    // shown: its final event carries the final length, and the copy is cut to it.
    if (isFinal(event.status) && event.offset < state.offset + codePointLength(event.delta)) {
        text = sliceCodePoints(text, event.offset);
    }
    return { text, offset: event.offset, status: event.status, error: event.error ?? null };
}
