// createClient: one socket shared by every stream of this client, queries and mutations over HTTP (or over the
// socket when the client was given a ws:// URL), and the browser's wake-up signals.
import { DEFAULT_RETRY_DELAY } from "./backoff.js";
import { BRANCH, CANCEL_STREAM, EDIT_MESSAGE, REGENERATE, SEND_MESSAGE, STREAM_BODY_QUERY } from "./documents.js";
import { PersistreamError } from "./errors.js";
import { httpRequest } from "./http.js";
import { Socket } from "./socket.js";
import { Stream } from "./stream.js";
function resolveUrls(url) {
    const base = globalThis.location?.href;
    const parsed = new URL(url, base);
    parsed.hash = "";
    if (parsed.protocol === "ws:" || parsed.protocol === "wss:")
        return { http: null, ws: parsed.toString() };
    const http = parsed.toString();
    parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:";
    return { http, ws: parsed.toString() };
}
export function createClient(options) {
    const urls = resolveUrls(options.url);
    const transport = options.transport ?? (urls.http ? "http" : "websocket");
    if (transport === "http" && !urls.http)
        throw new PersistreamError("transport 'http' needs an http(s) url.");
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    const keepAlive = options.keepAlive ?? 10_000;
    const socket = new Socket({
        url: urls.ws,
        connectionParams: options.connectionParams,
        webSocketImpl: options.WebSocket,
        keepAlive,
        stallTimeout: options.stallTimeout ?? Math.max(20_000, keepAlive * 2),
        idleTimeout: options.idleTimeout ?? (globalThis.document ? 10_000 : 0),
    });
    const streams = new Set();
    let disposed = false;
    async function request(query, variables = {}) {
        if (disposed)
            throw new PersistreamError("The client was disposed.", "CLOSED");
        if (transport === "http") {
            if (!fetchImpl)
                throw new PersistreamError("No fetch: pass `fetch` to createClient.");
            return httpRequest({ url: urls.http, headers: options.headers, fetch: fetchImpl, credentials: options.credentials ?? "same-origin" }, query, variables);
        }
        return socketRequest(query, variables);
    }
    function socketRequest(query, variables) {
        return new Promise((resolve, reject) => {
            let data = null;
            socket.subscribe({ query, variables }, { onLost: () => reject(new PersistreamError("The connection was lost before the server answered.")) }, {
                next: (result) => {
                    if (result.errors?.length)
                        reject(PersistreamError.fromGraphQL(result.errors));
                    else
                        data = (result.data ?? null);
                },
                error: (error) => reject(Array.isArray(error) ? PersistreamError.fromGraphQL(error) : new PersistreamError("The connection failed.")),
                complete: () => (data ? resolve(data) : reject(new PersistreamError("The server sent no answer."))),
            });
        });
    }
    const cancel = async (streamId) => (await request(CANCEL_STREAM, { streamId })).cancelStream;
    // Back online, or back to a tab the browser may have frozen: retry waiting streams now.
    const wake = () => {
        for (const stream of streams)
            stream.wake();
    };
    const onVisibility = () => {
        if (globalThis.document?.visibilityState === "visible")
            wake();
    };
    const target = globalThis;
    const doc = globalThis.document;
    target.addEventListener?.("online", wake);
    doc?.addEventListener("visibilitychange", onVisibility);
    return {
        async sendMessage(prompt, { threadId = null, parentId = null } = {}) {
            return (await request(SEND_MESSAGE, { prompt, threadId, parentId })).sendMessage;
        },
        async regenerate(messageId) {
            return (await request(REGENERATE, { messageId })).regenerate;
        },
        async editMessage(messageId, prompt) {
            return (await request(EDIT_MESSAGE, { messageId, prompt })).editMessage;
        },
        async branch(threadId, { leafId = null, last = 50, shareToken = null } = {}) {
            return (await request(BRANCH, { threadId, leafId, last, shareToken })).branch;
        },
        stream(streamId, streamOptions = {}) {
            if (disposed)
                throw new PersistreamError("The client was disposed.", "CLOSED");
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
            return (await request(STREAM_BODY_QUERY, { streamId, shareToken })).streamBody;
        },
        request,
        dispose() {
            if (disposed)
                return;
            disposed = true;
            target.removeEventListener?.("online", wake);
            doc?.removeEventListener("visibilitychange", onVisibility);
            for (const stream of [...streams])
                stream.close();
            socket.dispose();
        },
    };
}
