import type { UIMessage, UIMessageChunk } from "ai";
import { type Message, type Snapshot, type StreamStatus, type Usage } from "./types.js";
/** What the transport puts in an answer's `metadata` (the AI SDK's message metadata). */
export interface PersistreamMessageMetadata {
    threadId: string;
    /** The persistream message (a prompt and its answer): what `regenerate` and `editMessage` take. */
    messageId: string;
    streamId: string;
    status: StreamStatus;
    /** The model's token counts, on the finished answer when it reported them. */
    usage?: Usage | null;
    error?: string | null;
}
export type PersistreamUIMessage = UIMessage<PersistreamMessageMetadata>;
export declare class ChunkWriter {
    private readonly meta;
    private readonly emitted;
    private started;
    private finished;
    private status;
    constructor(meta: Omit<PersistreamMessageMetadata, "status">);
    /** The chunks that bring the UI from what was emitted so far to `snapshot`; the last ones once it is final. */
    advance(snapshot: Pick<Snapshot, "parts" | "status" | "error" | "usage">): UIMessageChunk[];
    /** An error chunk for a refusal of the stream itself (NOT_FOUND, UNAUTHENTICATED...), once. */
    fail(errorText: string): UIMessageChunk[];
    private partChunks;
}
/** A branch of a thread (`client.branch(threadId)`) as the AI SDK's messages, for `useChat({ messages })`: each
 * prompt a user message with the persistream message's id, each answer an assistant message whose id is its
 * stream id (so resuming a live one replaces it rather than adding a copy). */
export declare function toUIMessages(messages: Message[]): PersistreamUIMessage[];
