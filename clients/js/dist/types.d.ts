/** Where a stream is in its life. PENDING and STREAMING are live; every other status is final. */
export type StreamStatus = "PENDING" | "STREAMING" | "DONE" | "ERROR" | "TIMEOUT" | "CANCELLED";
/** What a part holds: the answer's text, the model's reasoning, a tool's call (its JSON arguments) or its result.
 * A newer server may add kinds: show a kind you do not know as text. */
export type PartKind = "TEXT" | "REASONING" | "TOOL_CALL" | "TOOL_RESULT" | (string & {});
/** One part of an answer. Parts follow each other and only the last one grows; a part's `kind`, `toolName` and
 * `toolCallId` never change. A TOOL_RESULT's text is what the tool returned: untrusted, never render it as HTML. */
export interface Part {
    /** Position of the part in the answer, from 0. */
    index: number;
    kind: PartKind;
    text: string;
    toolName: string | null;
    toolCallId: string | null;
    /** TOOL_RESULT only: the tool failed and `text` says why. */
    isError: boolean;
}
/** What one event appends to part `index` (its first delta starts the part, and may be empty). */
export interface PartDelta {
    index: number;
    kind: PartKind;
    delta: string;
    toolName: string | null;
    toolCallId: string | null;
    isError: boolean;
}
/** The tokens the model reported for a whole answer (every model call of it); null where it did not say. */
export interface Usage {
    inputTokens: number | null;
    outputTokens: number | null;
    reasoningTokens: number | null;
}
/** One event of `streamChat` or `streamBody`: `delta` and `offset` are the TEXT parts' (`offset` is their whole
 * length in code points after it); `parts` is what it appends to every part; `cursor` resumes right after it. */
export interface StreamEvent {
    delta: string;
    offset: number;
    status: StreamStatus;
    error: string | null;
    parts: PartDelta[];
    cursor: string;
    /** On the final event, when the model reported it. */
    usage: Usage | null;
}
/** A stream as stored: `text` is its TEXT parts, `parts` all of them, `cursor` the resume point after them. */
export interface StreamBody {
    streamId: string;
    text: string;
    status: StreamStatus;
    error: string | null;
    offset: number;
    parts: Part[];
    cursor: string;
    usage: Usage | null;
}
/** A prompt and its answer's stream, as `sendMessage`, `regenerate`, `editMessage`, `branch` and `messages` return
 * them. A thread is a tree: `parentId` is the message this one follows (null for a thread's first), `siblingIds`
 * every message with the same parent, this one included, oldest first (a client shows "2 / 3" from them). */
export interface Message {
    id: string;
    threadId: string;
    parentId: string | null;
    siblingIds: string[];
    prompt: string;
    createdAt: string;
    responseStreamId: string;
    response: StreamBody;
}
/** How a followed stream's socket is doing: before the first connection, connected, or lost and retrying. */
export type ConnectionState = "connecting" | "open" | "reconnecting";
/** Everything a follower knows of one stream at one moment. `text` is the whole text (its TEXT parts) so far,
 * `offset` its length in Unicode code points (not UTF-16 units), exactly as the server counts it; `parts` every
 * part so far, `cursor` the last resume point received (null before any), `usage` the model's token counts (once
 * final, when it reported them). Snapshots share unchanged parts: treat them as read-only. */
export interface Snapshot {
    text: string;
    offset: number;
    status: StreamStatus;
    error: string | null;
    parts: Part[];
    cursor: string | null;
    usage: Usage | null;
    connection: ConnectionState;
}
export declare const FINAL_STATUSES: ReadonlySet<StreamStatus>;
export declare function isFinal(status: StreamStatus): boolean;
