import type { PersistreamClient } from "./client.js";
import type { StreamOptions } from "./stream.js";
import type { ConnectionState, Part, StreamStatus, Usage } from "./types.js";
export interface UseStreamOptions extends StreamOptions {
}
export interface StreamState {
    text: string;
    offset: number;
    /** null while there is no stream id. */
    status: StreamStatus | null;
    /** The stream's own error (ERROR, TIMEOUT), or why it could not be followed (NOT_FOUND...). */
    error: string | null;
    /** Every part so far (reasoning, tool calls and results, text), in order; unchanged parts keep their identity. */
    parts: Part[];
    /** The last resume point received (or the initial body's). */
    cursor: string | null;
    /** The model's token counts, once final, when it reported them. */
    usage: Usage | null;
    connection: ConnectionState;
}
export declare function useStream(client: PersistreamClient, streamId: string | null | undefined, options?: UseStreamOptions): StreamState;
