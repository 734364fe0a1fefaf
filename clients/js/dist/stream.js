// Following one stream until its final status, across any number of dropped sockets.
//
// Invariants (each one is a promise of the contract):
// - Every subscription after the first is `streamBody`, as an observer, also for a stream that was driven: from the
//   held cursor when there is one (`fromCursor`: the rest of every part), else from the held TEXT offset
//   (`fromOffset`). The server sends only what comes after it, so nothing shows twice, and it accepts a place ahead
//   of what is persisted (a driver that saw tokens not yet stored).
// - A driver's first subscription is `streamChat` (it claims a PENDING stream). While it has received nothing
//   it retries with streamChat, which on a claimed stream is streamBody(0): exactly where its copy stands.
// - Snapshots only go forward: each one's text, and each of its parts, is the previous one's plus a delta, except
//   the shorter-final cut (answer.ts). After the final snapshot, or after close(), nothing is delivered.
import { applyEvent } from "./answer.js";
import { backoff } from "./backoff.js";
import { STREAM_BODY, STREAM_CHAT } from "./documents.js";
import { PersistreamError } from "./errors.js";
import { isCloseLike, isFatalClose } from "./socket.js";
import { isFinal } from "./types.js";
export class Stream {
    deps;
    id;
    answer;
    connection = "connecting";
    everOpen = false;
    drive;
    shareToken;
    received = false;
    retries = 0;
    retryTimer;
    current = null;
    ended = false; // final, failed, or closed: nothing more happens
    failure = null;
    listeners = new Set();
    unwatch = () => { };
    finished;
    settle;
    constructor(id, options, deps) {
        this.deps = deps;
        this.id = id;
        const initial = options.initial ?? {};
        this.answer = {
            text: initial.text ?? "",
            offset: initial.offset ?? 0,
            status: initial.status ?? "PENDING",
            error: initial.error ?? null,
            parts: initial.parts ?? [],
            cursor: initial.cursor ?? null,
            usage: initial.usage ?? null,
        };
        this.shareToken = options.shareToken ?? null;
        this.drive = Boolean(options.drive) && !this.shareToken;
        this.finished = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
        // An unobserved failure must not become an unhandled rejection: `done` is there for whoever wants it.
        this.finished.catch(() => { });
        this.unwatch = deps.socket.watch(() => this.updateConnection());
    }
    /** Begins following (the client calls it once it has registered the stream). */
    start() {
        if (isFinal(this.answer.status)) {
            this.end();
            this.settle.resolve(this.snapshot);
        }
        else {
            this.subscribeNow();
        }
    }
    /** The current snapshot. */
    get snapshot() {
        return { ...this.answer, connection: this.connection };
    }
    /** Resolves with the final snapshot; rejects with a PersistreamError when the server refused the stream, or
     * with an AbortError-like PersistreamError when `close()` came first. */
    get done() {
        return this.finished;
    }
    /** Calls `listener` at once with the current snapshot, then on every change. Returns the unsubscribe function.
     * `onError` hears a refusal (NOT_FOUND, FORBIDDEN...), after which nothing more comes. */
    subscribe(listener, onError) {
        const entry = { next: listener, error: onError };
        if (this.failure) {
            onError?.(this.failure);
            return () => { };
        }
        listener(this.snapshot);
        if (this.ended)
            return () => { };
        this.listeners.add(entry);
        return () => this.listeners.delete(entry);
    }
    /** The snapshots as they change, ending with the final one (or when `close()` is called). A consumer slower
     * than the stream skips intermediate snapshots, never the last: each holds the whole text. */
    [Symbol.asyncIterator]() {
        let pending = null;
        let done = false;
        let failed = null;
        let wake = null;
        const poke = () => {
            const w = wake;
            wake = null;
            w?.();
        };
        const stop = this.subscribe((snapshot) => {
            pending = snapshot;
            if (this.ended)
                done = true;
            poke();
        }, (error) => {
            failed = error;
            poke();
        });
        const onEnd = (final) => {
            done = true;
            if (!final)
                pending = null; // closed: nothing more is delivered
            poke();
        };
        this.endWatchers.add(onEnd);
        if (this.ended)
            done = true;
        return {
            next: async () => {
                for (;;) {
                    if (pending) {
                        const value = pending;
                        pending = null;
                        return { value, done: false };
                    }
                    if (failed)
                        throw failed;
                    if (done) {
                        stop();
                        this.endWatchers.delete(onEnd);
                        return { value: undefined, done: true };
                    }
                    await new Promise((resolve) => (wake = resolve));
                }
            },
            return: async () => {
                stop();
                this.endWatchers.delete(onEnd);
                done = true;
                pending = null;
                return { value: undefined, done: true };
            },
        };
    }
    /** Cancels the answer on the server (cancelStream): the stream then ends CANCELLED, with the text so far. */
    cancel() {
        return this.deps.cancel(this.id);
    }
    /** Stops following. The answer itself goes on to its end on the server; nothing is delivered after this. */
    close() {
        if (this.ended)
            return;
        this.end();
        this.settle.reject(new PersistreamError("The stream was closed before it ended.", "CLOSED"));
    }
    /** Retry now rather than at the end of the backoff (the network came back, the tab is visible again). */
    wake() {
        if (this.ended || this.current || this.retryTimer === undefined)
            return;
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.subscribeNow();
    }
    // --- internals ----------------------------------------------------------------------------------------
    endWatchers = new Set();
    subscribeNow() {
        if (this.ended)
            return;
        // Holding any part (reasoning before the text, say) means the stream was already claimed: resume from it.
        const streamChat = this.drive && !this.received && this.answer.offset === 0 && this.answer.parts.length === 0;
        const payload = streamChat
            ? { query: STREAM_CHAT, variables: { streamId: this.id } }
            : {
                query: STREAM_BODY,
                variables: {
                    streamId: this.id,
                    fromOffset: this.answer.offset,
                    shareToken: this.shareToken,
                    fromCursor: this.answer.cursor,
                },
            };
        let open = true;
        let endSubscription = () => { };
        const attempt = {
            end: () => {
                if (!open)
                    return;
                open = false;
                if (this.current === attempt)
                    this.current = null;
                endSubscription();
            },
        };
        const lost = (close) => {
            if (!open)
                return;
            attempt.end();
            if (close && isFatalClose(close)) {
                const code = close.code === 4403 ? "UNAUTHENTICATED" : null;
                this.fail(new PersistreamError(`The server closed the connection (${close.code}${close.reason ? `: ${close.reason}` : ""}).`, code));
                return;
            }
            this.retryLater(null);
        };
        const operation = { onLost: lost };
        this.current = attempt;
        endSubscription = this.deps.socket.subscribe(payload, operation, {
            next: (result) => {
                if (!open)
                    return;
                if (result.errors?.length)
                    return this.refused(attempt, PersistreamError.fromGraphQL(result.errors));
                const event = result.data?.streamChat ?? result.data?.streamBody;
                if (event)
                    this.apply(event);
            },
            error: (error) => {
                if (!open)
                    return;
                // An array is the server's refusal of this operation; anything else is the socket failing.
                if (Array.isArray(error))
                    return this.refused(attempt, PersistreamError.fromGraphQL(error));
                lost(isCloseLike(error) ? error : null);
            },
            complete: () => {
                // Completed before the final status (the server going away): resume like after a drop.
                if (open)
                    lost(null);
            },
        });
        this.updateConnection();
    }
    apply(event) {
        this.received = true;
        this.retries = 0;
        const before = this.answer;
        this.answer = applyEvent(before, event);
        const changed = this.answer.text !== before.text ||
            this.answer.status !== before.status ||
            this.answer.error !== before.error ||
            this.answer.parts !== before.parts ||
            this.answer.usage !== before.usage;
        if (isFinal(this.answer.status)) {
            this.end();
            this.settle.resolve(this.snapshot);
            return;
        }
        if (changed)
            this.emit();
    }
    refused(attempt, error) {
        attempt.end();
        // Too many subscriptions on this socket (or another limit): not this stream's fault; wait and try again.
        if (error.code === "RATE_LIMITED")
            return this.retryLater(error.retryAfter);
        this.fail(error);
    }
    retryLater(retryAfterSeconds) {
        if (this.ended)
            return;
        const delay = retryAfterSeconds ? retryAfterSeconds * 1000 : backoff(this.retries, this.deps.retryDelay);
        this.retries += 1;
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.subscribeNow();
        }, delay);
        this.updateConnection();
    }
    updateConnection() {
        if (this.ended)
            return;
        let next;
        if (this.current && this.deps.socket.isConnected) {
            next = "open";
            this.everOpen = true;
        }
        else {
            next = this.everOpen ? "reconnecting" : "connecting";
        }
        if (next === this.connection)
            return;
        this.connection = next;
        this.emit();
    }
    emit() {
        const snapshot = this.snapshot;
        for (const listener of [...this.listeners])
            listener.next(snapshot);
    }
    fail(error) {
        if (this.ended)
            return;
        this.failure = error;
        const listeners = [...this.listeners];
        this.end(false);
        for (const listener of listeners)
            listener.error?.(error);
        this.settle.reject(error);
    }
    /** Ends following: with `deliver`, listeners get the last snapshot first (the final one). */
    end(deliver = true) {
        if (this.ended)
            return;
        this.ended = true;
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.current?.end();
        this.current = null;
        this.unwatch();
        const final = deliver && isFinal(this.answer.status);
        if (final)
            this.emit();
        this.listeners.clear();
        for (const watcher of [...this.endWatchers])
            watcher(final);
        this.deps.onEnd(this);
    }
}
