// The shapes the server sends (as in its schema.graphql) and the snapshots this client hands to its users.

/** Where a stream is in its life. PENDING and STREAMING are live; every other status is final. */
export type StreamStatus = "PENDING" | "STREAMING" | "DONE" | "ERROR" | "TIMEOUT" | "CANCELLED";

/** One event of `streamChat` or `streamBody`: `offset` is the whole text's length in code points after it. */
export interface StreamEvent {
  delta: string;
  offset: number;
  status: StreamStatus;
  error: string | null;
}

/** A stream's text and status as stored. */
export interface StreamBody {
  streamId: string;
  text: string;
  status: StreamStatus;
  error: string | null;
  offset: number;
}

/** A prompt and its answer's stream, as `sendMessage` and `messages` return them. */
export interface Message {
  id: string;
  threadId: string;
  prompt: string;
  createdAt: string;
  responseStreamId: string;
  response: StreamBody;
}

/** How a followed stream's socket is doing: before the first connection, connected, or lost and retrying. */
export type ConnectionState = "connecting" | "open" | "reconnecting";

/** Everything a follower knows of one stream at one moment. `text` is the whole text so far, `offset` its length
 * in Unicode code points (not UTF-16 units), exactly as the server counts it. */
export interface Snapshot {
  text: string;
  offset: number;
  status: StreamStatus;
  error: string | null;
  connection: ConnectionState;
}

export const FINAL_STATUSES: ReadonlySet<StreamStatus> = new Set(["DONE", "ERROR", "TIMEOUT", "CANCELLED"]);

export function isFinal(status: StreamStatus): boolean {
  return FINAL_STATUSES.has(status);
}
