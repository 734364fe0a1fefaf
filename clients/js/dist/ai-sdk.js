// persistream-client/ai-sdk: a ChatTransport for the AI SDK's `useChat` (AI SDK 5 and later) over a persistream
// client. The chat's id is the thread's id. Sending stores the last user message (an edit or a regenerate becomes
// a sibling, as the branch operations make it) and streams its answer; the abort signal (`stop()`) cancels the
// answer on the server; `reconnectToStream` (`useChat({ resume: true })`) follows the thread's live answer again.
//
// The `ai` package is a peer of this module only, and only for its types: nothing here loads it.
import { ChunkWriter } from "./ai-sdk-chunks.js";
import { PersistreamError } from "./errors.js";
import { isFinal } from "./types.js";
export { toUIMessages } from "./ai-sdk-chunks.js";
const PREFIX = "persistream-ai-sdk:";
// persistream's thread ids are UUIDs; any other chat id (useChat's own random one, say) cannot name a thread.
const THREAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function asThreadId(chatId) {
    return THREAD_ID.test(chatId) ? chatId : null;
}
// Saving the live answer on every token would write the whole answer each time; this often is enough.
const SAVE_INTERVAL_MS = 200;
function defaultStorage() {
    try {
        return globalThis.sessionStorage ?? null;
    }
    catch {
        return null; // storage refused (a sandboxed frame)
    }
}
function memoryStorage() {
    const items = new Map();
    return {
        getItem: (key) => items.get(key) ?? null,
        setItem: (key, value) => void items.set(key, value),
        removeItem: (key) => void items.delete(key),
    };
}
function promptOf(message) {
    return message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");
}
export class PersistreamChatTransport {
    /** A resumed answer always comes whole, from its start: from what the transport kept then on from its cursor,
     * or, when it kept nothing, as the server has it. `useChat` starts that message afresh rather than adding to it. */
    resumeStreamIsReplay = true;
    client;
    storage;
    onThread;
    constructor({ client, storage, onThread }) {
        this.client = client;
        this.storage = (storage === undefined ? defaultStorage() : storage) ?? memoryStorage();
        this.onThread = onThread;
    }
    async sendMessages(options) {
        const { chatId, messages, trigger, messageId, abortSignal } = options;
        const record = this.record(chatId);
        const users = messages.filter((message) => message.role === "user");
        const last = users.at(-1);
        if (!last)
            throw new PersistreamError("There is no user message to send.", "BAD_USER_INPUT");
        let sent;
        if (trigger === "regenerate-message") {
            sent = await this.client.regenerate(this.persistreamId(record, last.id));
        }
        else if (messageId !== undefined && messageId === last.id) {
            sent = await this.client.editMessage(this.persistreamId(record, last.id), promptOf(last));
        }
        else {
            const parent = users.at(-2);
            sent = await this.submit(record, chatId, promptOf(last), parent ? this.persistreamId(record, parent.id) : null);
        }
        record.ids[last.id] = sent.id;
        const known = record.threadId;
        record.threadId = sent.threadId;
        this.saveRecord(chatId, record);
        if (known !== sent.threadId)
            this.onThread?.(sent.threadId, chatId);
        const target = { threadId: sent.threadId, messageId: sent.id, streamId: sent.responseStreamId };
        return this.follow(target, {}, abortSignal, false);
    }
    async reconnectToStream({ chatId, abortSignal }) {
        const threadId = this.record(chatId).threadId ?? asThreadId(chatId);
        if (!threadId)
            return null;
        const held = this.readLive(threadId);
        if (held) {
            const initial = { parts: held.parts, text: held.text, offset: held.offset, cursor: held.cursor ?? undefined };
            return this.follow(held, initial, abortSignal, true);
        }
        let newest;
        try {
            newest = (await this.client.branch(threadId, { last: 1 })).at(-1);
        }
        catch (error) {
            if (error instanceof PersistreamError && error.code === "NOT_FOUND")
                return null;
            throw error;
        }
        if (!newest || isFinal(newest.response.status))
            return null;
        const target = { threadId, messageId: newest.id, streamId: newest.responseStreamId };
        return this.follow(target, {}, abortSignal, true);
    }
    /** A new prompt: in the chat's thread (its id, for a chat opened on a thread), else in a new thread. A chat id
     * that is a thread id the caller cannot see (none, or another identity's) fails with the server's NOT_FOUND and
     * stores nothing: the chat does not quietly become a new thread under the same name. */
    async submit(record, chatId, prompt, parentId) {
        const threadId = record.threadId ?? asThreadId(chatId);
        if (!threadId)
            return this.client.sendMessage(prompt);
        return this.client.sendMessage(prompt, { threadId, parentId });
    }
    /** The answer as chunks, from its start: what `initial` holds at once, then the rest from the server.
     * The abort signal is `stop()`: it cancels the answer on the server. A resume (`resumed`) aborted before the page
     * read anything from it was abandoned, not stopped (React's StrictMode unmounts once, and useChat then stops
     * every request): it leaves the answer alone. */
    follow(target, initial, abortSignal, resumed) {
        const { threadId, messageId, streamId } = target;
        const writer = new ChunkWriter({ threadId, messageId, streamId });
        const liveKey = `${PREFIX}live:${threadId}`;
        const queue = [];
        let wake = null;
        let ended = false; // nothing more will be queued
        let read = false;
        let stream = null;
        let lastSave = 0;
        const push = (chunks, last = false) => {
            if (ended)
                return;
            queue.push(...chunks);
            ended = last;
            wake?.();
        };
        const save = (snapshot) => {
            if (!isFinal(snapshot.status) && Date.now() - lastSave < SAVE_INTERVAL_MS)
                return;
            lastSave = Date.now();
            if (isFinal(snapshot.status))
                return this.storage.removeItem(liveKey);
            const { parts, text, offset, cursor } = snapshot;
            this.write(liveKey, { threadId, messageId, streamId, parts, text, offset, cursor });
        };
        const onAbort = () => {
            if (read || !resumed) {
                // stop(): the answer ends on the server, CANCELLED with its text so far; nothing is left to resume.
                this.client.cancel(streamId).catch(() => { });
                this.storage.removeItem(liveKey);
            }
            stream?.close();
            push([], true);
        };
        const begin = () => {
            if (abortSignal?.aborted)
                return onAbort();
            abortSignal?.addEventListener("abort", onAbort, { once: true });
            stream = this.client.stream(streamId, { drive: true, initial });
            lastSave = 0;
            stream.subscribe((snapshot) => {
                save(snapshot);
                push(writer.advance(snapshot), isFinal(snapshot.status));
                if (ended)
                    abortSignal?.removeEventListener("abort", onAbort);
            }, (error) => {
                this.storage.removeItem(liveKey);
                abortSignal?.removeEventListener("abort", onAbort);
                push(writer.fail(error.message), true);
            });
        };
        // highWaterMark 0: `pull` runs only when the page reads, which is how a read is told from none.
        return new ReadableStream({
            start: begin,
            pull: async (controller) => {
                read = true;
                while (!queue.length && !ended)
                    await new Promise((resolve) => (wake = resolve));
                wake = null;
                for (const chunk of queue.splice(0))
                    controller.enqueue(chunk);
                if (ended)
                    controller.close();
            },
            // The reader went away without stop() (a page leaving, say): the answer goes on, and can be resumed.
            cancel: () => {
                abortSignal?.removeEventListener("abort", onAbort);
                stream?.close();
                push([], true);
            },
        }, { highWaterMark: 0 });
    }
    persistreamId(record, uiMessageId) {
        return record.ids[uiMessageId] ?? uiMessageId;
    }
    record(chatId) {
        const found = this.read(`${PREFIX}chat:${chatId}`);
        return { threadId: found?.threadId ?? null, ids: { ...(found?.ids ?? {}) } };
    }
    saveRecord(chatId, record) {
        this.write(`${PREFIX}chat:${chatId}`, record);
    }
    readLive(threadId) {
        const live = this.read(`${PREFIX}live:${threadId}`);
        return live && typeof live.streamId === "string" && Array.isArray(live.parts) ? live : null;
    }
    read(key) {
        try {
            const raw = this.storage.getItem(key);
            return raw ? JSON.parse(raw) : null;
        }
        catch {
            return null;
        }
    }
    write(key, value) {
        try {
            this.storage.setItem(key, JSON.stringify(value));
        }
        catch {
            // Storage full or refused: a reload then shows the answer as the server has it, from its start.
        }
    }
}
