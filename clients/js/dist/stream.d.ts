import { type RetryDelay } from "./backoff.js";
import { PersistreamError } from "./errors.js";
import { type Socket } from "./socket.js";
import { type Snapshot, type StreamBody } from "./types.js";
export interface StreamOptions {
    /** Claim a PENDING stream and start its generation with streamChat (only the owner may). Default false. */
    drive?: boolean;
    /** Follow a stream of a shared thread with its read-only share token. */
    shareToken?: string | null;
    /** What the caller already holds (a body from `messages`, say): following starts at its cursor when it has one
     * (then pass its `parts` too), else at its offset. */
    initial?: Partial<Pick<StreamBody, "text" | "offset" | "status" | "error" | "parts" | "cursor" | "usage">>;
}
export type Listener = (snapshot: Snapshot) => void;
export type ErrorListener = (error: PersistreamError) => void;
interface StreamDeps {
    socket: Socket;
    retryDelay: RetryDelay;
    cancel(streamId: string): Promise<StreamBody>;
    onEnd(stream: Stream): void;
}
export declare class Stream implements AsyncIterable<Snapshot> {
    private readonly deps;
    readonly id: string;
    private answer;
    private connection;
    private everOpen;
    private readonly drive;
    private readonly shareToken;
    private received;
    private retries;
    private retryTimer;
    private current;
    private ended;
    private failure;
    private readonly listeners;
    private unwatch;
    private readonly finished;
    private settle;
    constructor(id: string, options: StreamOptions, deps: StreamDeps);
    /** Begins following (the client calls it once it has registered the stream). */
    start(): void;
    /** The current snapshot. */
    get snapshot(): Snapshot;
    /** Resolves with the final snapshot; rejects with a PersistreamError when the server refused the stream, or
     * with an AbortError-like PersistreamError when `close()` came first. */
    get done(): Promise<Snapshot>;
    /** Calls `listener` at once with the current snapshot, then on every change. Returns the unsubscribe function.
     * `onError` hears a refusal (NOT_FOUND, FORBIDDEN...), after which nothing more comes. */
    subscribe(listener: Listener, onError?: ErrorListener): () => void;
    /** The snapshots as they change, ending with the final one (or when `close()` is called). A consumer slower
     * than the stream skips intermediate snapshots, never the last: each holds the whole text. */
    [Symbol.asyncIterator](): AsyncIterator<Snapshot>;
    /** Cancels the answer on the server (cancelStream): the stream then ends CANCELLED, with the text so far. */
    cancel(): Promise<StreamBody>;
    /** Stops following. The answer itself goes on to its end on the server; nothing is delivered after this. */
    close(): void;
    /** Retry now rather than at the end of the backoff (the network came back, the tab is visible again). */
    wake(): void;
    private readonly endWatchers;
    private subscribeNow;
    private apply;
    private refused;
    private retryLater;
    private updateConnection;
    private emit;
    private fail;
    /** Ends following: with `deliver`, listeners get the last snapshot first (the final one). */
    private end;
}
export {};
