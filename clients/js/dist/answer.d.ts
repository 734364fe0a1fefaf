import { type StreamEvent, type StreamStatus } from "./types.js";
export interface AnswerState {
    readonly text: string;
    readonly offset: number;
    readonly status: StreamStatus;
    readonly error: string | null;
}
export declare function codePointLength(text: string): number;
/** The first `length` code points of `text` (an astral emoji is two UTF-16 units and one code point). */
export declare function sliceCodePoints(text: string, length: number): string;
/** The state after `event`. A final state never changes again. */
export declare function applyEvent(state: AnswerState, event: StreamEvent): AnswerState;
