import { type Part, type PartDelta, type StreamEvent, type StreamStatus, type Usage } from "./types.js";
export interface AnswerState {
    readonly text: string;
    readonly offset: number;
    readonly status: StreamStatus;
    readonly error: string | null;
    readonly parts: Part[];
    /** The last resume point received; null before the first. */
    readonly cursor: string | null;
    readonly usage: Usage | null;
}
export declare function codePointLength(text: string): number;
/** The first `length` code points of `text` (an astral emoji is two UTF-16 units and one code point). */
export declare function sliceCodePoints(text: string, length: number): string;
/** `parts` with `deltas` applied (the same array when there are none). */
export declare function applyPartDeltas(parts: Part[], deltas: readonly PartDelta[]): Part[];
/** `parts` cut where the TEXT parts reach `length` code points: what an answer that ended shorter than shown kept
 * (it is stored in order, so whatever came after the lost text was lost with it). */
export declare function cutParts(parts: Part[], length: number): Part[];
/** The state after `event`. A final state never changes again. */
export declare function applyEvent(state: AnswerState, event: StreamEvent): AnswerState;
