// createClient: one socket shared by every stream of this client, queries and mutations over HTTP (or over the
// socket when the client was given a ws:// URL), and the browser's wake-up signals.

import { DEFAULT_RETRY_DELAY, type RetryDelay } from "./backoff.js";
import { BRANCH, CANCEL_STREAM, EDIT_MESSAGE, REGENERATE, SEND_MESSAGE, STREAM_BODY_QUERY } from "./documents.js";
import { PersistreamError } from "./errors.js";
import { httpRequest, type HeadersOption } from "./http.js";
import { Socket } from "./socket.js";
import { Stream, type StreamOptions } from "./stream.js";
import type { Message, StreamBody } from "./types.js";

export type ConnectionParamsOption =
  | Record<string, unknown>
  | (() => Record<string, unknown> | Promise<Record<string, unknown>>);

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
  body(streamId: string, options?: { shareToken?: string | null }): Promise<StreamBody>;
  /** Any other query or mutation of the schema; resolves with `data`, rejects with a PersistreamError. */
  request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Closes every stream and the socket. */
  dispose(): void;
}

function resolveUrls(url: string): { http: string | null; ws: string } {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const parsed = new URL(url, base);
  parsed.hash = "";
  if (parsed.protocol === "ws:" || parsed.protocol === "wss:") return { http: null, ws: parsed.toString() };
  const http = parsed.toString();
  parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
  return { http, ws: parsed.toString() };
}

export function createClient(options: ClientOptions): PersistreamClient {
  const urls = resolveUrls(options.url);
  const transport = options.transport ?? (urls.http ? "http" : "websocket");
  if (transport === "http" && !urls.http) throw new PersistreamError("transport 'http' needs an http(s) url.");
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  const keepAlive = options.keepAlive ?? 10_000;
  const socket = new Socket({
    url: urls.ws,
    connectionParams: options.connectionParams,
    webSocketImpl: options.WebSocket,
    keepAlive,
    stallTimeout: options.stallTimeout ?? Math.max(20_000, keepAlive * 2),
    idleTimeout: options.idleTimeout ?? ((globalThis as { document?: unknown }).document ? 10_000 : 0),
  });
  const streams = new Set<Stream>();
  let disposed = false;

  async function request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    if (disposed) throw new PersistreamError("The client was disposed.", "CLOSED");
    if (transport === "http") {
      if (!fetchImpl) throw new PersistreamError("No fetch: pass `fetch` to createClient.");
      return httpRequest<T>(
        { url: urls.http as string, headers: options.headers, fetch: fetchImpl, credentials: options.credentials ?? "same-origin" },
        query,
        variables,
      );
    }
    return socketRequest<T>(query, variables);
  }

  function socketRequest<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let data: T | null = null;
      socket.subscribe<T>(
        { query, variables },
        { onLost: () => reject(new PersistreamError("The connection was lost before the server answered.")) },
        {
          next: (result) => {
            if (result.errors?.length) reject(PersistreamError.fromGraphQL(result.errors));
            else data = (result.data ?? null) as T | null;
          },
          error: (error) =>
            reject(Array.isArray(error) ? PersistreamError.fromGraphQL(error) : new PersistreamError("The connection failed.")),
          complete: () => (data ? resolve(data) : reject(new PersistreamError("The server sent no answer."))),
        },
      );
    });
  }

  const cancel = async (streamId: string): Promise<StreamBody> =>
    (await request<{ cancelStream: StreamBody }>(CANCEL_STREAM, { streamId })).cancelStream;

  // Back online, or back to a tab the browser may have frozen: retry waiting streams now.
  const wake = () => {
    for (const stream of streams) stream.wake();
  };
  const onVisibility = () => {
    if ((globalThis as { document?: Document }).document?.visibilityState === "visible") wake();
  };
  const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener };
  const doc = (globalThis as { document?: Document }).document;
  target.addEventListener?.("online", wake);
  doc?.addEventListener("visibilitychange", onVisibility);

  return {
    async sendMessage(prompt, { threadId = null, parentId = null } = {}) {
      return (await request<{ sendMessage: Message }>(SEND_MESSAGE, { prompt, threadId, parentId })).sendMessage;
    },
    async regenerate(messageId) {
      return (await request<{ regenerate: Message }>(REGENERATE, { messageId })).regenerate;
    },
    async editMessage(messageId, prompt) {
      return (await request<{ editMessage: Message }>(EDIT_MESSAGE, { messageId, prompt })).editMessage;
    },
    async branch(threadId, { leafId = null, last = 50, shareToken = null } = {}) {
      return (await request<{ branch: Message[] }>(BRANCH, { threadId, leafId, last, shareToken })).branch;
    },
    stream(streamId, streamOptions = {}) {
      if (disposed) throw new PersistreamError("The client was disposed.", "CLOSED");
      const stream = new Stream(streamId, streamOptions, {
        socket,
        retryDelay: options.retryDelay ?? DEFAULT_RETRY_DELAY,
        cancel,
        onEnd: (s) => streams.delete(s),
      });
      streams.add(stream);
      stream.start();
      return stream;
    },
    cancel,
    async body(streamId, { shareToken = null } = {}) {
      return (await request<{ streamBody: StreamBody }>(STREAM_BODY_QUERY, { streamId, shareToken })).streamBody;
    },
    request,
    dispose() {
      if (disposed) return;
      disposed = true;
      target.removeEventListener?.("online", wake);
      doc?.removeEventListener("visibilitychange", onVisibility);
      for (const stream of [...streams]) stream.close();
      socket.dispose();
    },
  };
}
