import type { ChatTransport, UIMessage, UIMessageChunk } from "ai";
import type { PersistreamClient } from "./client.js";
export { toUIMessages } from "./ai-sdk-chunks.js";
export type { PersistreamMessageMetadata, PersistreamUIMessage } from "./ai-sdk-chunks.js";
/** Where the transport keeps what a reload must not lose (the Web Storage API's shape). */
export type TransportStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;
export interface PersistreamChatTransportOptions {
    /** A `createClient(...)` client. */
    client: PersistreamClient;
    /** Where the live answer's parts and cursor are kept across a reload, and which message is which (default:
     * `sessionStorage` in a browser, else memory only). `null`: memory only. */
    storage?: TransportStorage | null;
    /** Called when a chat's first prompt is stored, with its thread's id: a new chat's is a new thread's (keep it,
     * in the URL say, and open the chat again with `useChat({ id: threadId })`). */
    onThread?: (threadId: string, chatId: string) => void;
}
type SendOptions = Parameters<ChatTransport<UIMessage>["sendMessages"]>[0];
type ReconnectOptions = Parameters<ChatTransport<UIMessage>["reconnectToStream"]>[0];
export declare class PersistreamChatTransport<UI_MESSAGE extends UIMessage = UIMessage> implements ChatTransport<UI_MESSAGE> {
    /** A resumed answer always comes whole, from its start: from what the transport kept then on from its cursor,
     * or, when it kept nothing, as the server has it. `useChat` starts that message afresh rather than adding to it. */
    readonly resumeStreamIsReplay = true;
    private readonly client;
    private readonly storage;
    private readonly onThread;
    constructor({ client, storage, onThread }: PersistreamChatTransportOptions);
    sendMessages(options: SendOptions & {
        messages: UI_MESSAGE[];
    }): Promise<ReadableStream<UIMessageChunk>>;
    reconnectToStream({ chatId, abortSignal }: ReconnectOptions): Promise<ReadableStream<UIMessageChunk> | null>;
    /** A new prompt: in the chat's thread (its id, for a chat opened on a thread), else in a new thread. A chat id
     * that is a thread id the caller cannot see (none, or another identity's) fails with the server's NOT_FOUND and
     * stores nothing: the chat does not quietly become a new thread under the same name. */
    private submit;
    /** The answer as chunks, from its start: what `initial` holds at once, then the rest from the server.
     * The abort signal is `stop()`: it cancels the answer on the server. A resume (`resumed`) aborted before the page
     * read anything from it was abandoned, not stopped (React's StrictMode unmounts once, and useChat then stops
     * every request): it leaves the answer alone. */
    private follow;
    private persistreamId;
    private record;
    private saveRecord;
    private readLive;
    private read;
    private write;
}
