import { type RetryDelay } from "./backoff.js";
import { type HeadersOption } from "./http.js";
import { Stream, type StreamOptions } from "./stream.js";
import type { Message, StreamBody } from "./types.js";
export type ConnectionParamsOption = Record<string, unknown> | (() => Record<string, unknown> | Promise<Record<string, unknown>>);
export interface ClientOptions {
    /** The server's GraphQL endpoint: `http(s)://host/graphql` (queries over HTTP, streams over WebSocket on the
     * same path), `ws(s)://host/graphql` (everything over the socket), or, in a browser, a path like `/graphql`. */
    url: string;
    /** Headers for every HTTP request (e.g. `{ Authorization: "Bearer ..." }`), or a function read per request. */
    headers?: HeadersOption;
    /** The `connection_init` payload of every socket (e.g. `{ Authorization: "Bearer ..." }`; a browser cannot set
     * headers on a WebSocket upgrade), or a function read per connection. */
    connectionParams?: ConnectionParamsOption;
    /** A WebSocket implementation where there is no global one (Node 20: `import WebSocket from "ws"`). */
    WebSocket?: unknown;
    /** A fetch implementation (default: the global fetch). */
    fetch?: typeof fetch;
    /** fetch's `credentials` (default "same-origin": the anonymous mode's cookie goes to the page's own server). */
    credentials?: RequestCredentials;
    /** Send queries and mutations over "http" (default for http URLs) or over the "websocket". */
    transport?: "http" | "websocket";
    /** The client pings the server this often, in ms (default 10000). */
    keepAlive?: number;
    /** A socket that receives nothing for this long, in ms, is dead and replaced (default 20000). */
    stallTimeout?: number;
    /** How long, in ms, the socket stays open once no stream is followed (default 10000 in a browser, so the next
     * answer needs no new connection; 0 elsewhere, so a Node process can exit as soon as it is done). */
    idleTimeout?: number;
    /** The delays between reconnect attempts, doubling from min to max ms (default 250 to 8000). */
    retryDelay?: RetryDelay;
}
export interface SendOptions {
    /** Continue this thread; without it a new thread is started. */
    threadId?: string | null;
    /** Continue the branch that ends at this message of the thread (it needs `threadId`); without it, the branch of
     * the thread's newest message. */
    parentId?: string | null;
}
export interface BranchOptions {
    /** The branch that ends at this message; without it, the one ending at the thread's newest message. */
    leafId?: string | null;
    /** Keep only the branch's newest messages (default 50). */
    last?: number;
    /** Read a shared thread with its share token instead of as its owner. */
    shareToken?: string | null;
}
export interface PersistreamClient {
    /** Stores the prompt and a PENDING answer; drive it with `stream(message.responseStreamId, { drive: true })`. */
    sendMessage(prompt: string, options?: SendOptions): Promise<Message>;
    /** A sibling of the message with the same prompt and a new PENDING answer (drive it as a sent one's). */
    regenerate(messageId: string): Promise<Message>;
    /** A sibling of the message with the new prompt and a new PENDING answer (drive it as a sent one's). */
    editMessage(messageId: string, prompt: string): Promise<Message>;
    /** One branch of the thread, oldest first, ending at `leafId` (by default at the thread's newest message). */
    branch(threadId: string, options?: BranchOptions): Promise<Message[]>;
    /** Follows one stream (drives it with `drive: true`) until its final status. */
    stream(streamId: string, options?: StreamOptions): Stream;
    /** cancelStream: the answer ends CANCELLED with its text so far. */
    cancel(streamId: string): Promise<StreamBody>;
    /** The stream's text and status as stored now. */
    body(streamId: string, options?: {
        shareToken?: string | null;
    }): Promise<StreamBody>;
    /** Any other query or mutation of the schema; resolves with `data`, rejects with a PersistreamError. */
    request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
    /** Closes every stream and the socket. */
    dispose(): void;
}
export declare function createClient(options: ClientOptions): PersistreamClient;
