import type { PersistreamClient } from "./client.js";
import type { StreamOptions } from "./stream.js";
import type { ConnectionState, StreamStatus } from "./types.js";
export interface UseStreamOptions extends StreamOptions {
}
export interface StreamState {
    text: string;
    offset: number;
    /** null while there is no stream id. */
    status: StreamStatus | null;
    /** The stream's own error (ERROR, TIMEOUT), or why it could not be followed (NOT_FOUND...). */
    error: string | null;
    connection: ConnectionState;
}
export declare function useStream(client: PersistreamClient, streamId: string | null | undefined, options?: UseStreamOptions): StreamState;
