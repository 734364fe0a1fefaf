// From persistream snapshots to the AI SDK's UI message chunks, and from stored messages to UI messages.
//
// A snapshot holds every part so far; only the last part grows, so a part is whole once a later one exists or the
// answer is final. The writer remembers how much of each part it has emitted and sends only the rest: a part's
// start, its deltas, and once whole its end (a tool call's input, a tool result's output). Types come from `ai`
// with `import type` only: this module never loads the AI SDK.

import type { UIMessage, UIMessageChunk } from "ai";

import { isFinal, type Message, type Part, type Snapshot, type StreamStatus, type Usage } from "./types.js";

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

interface Emitted {
  length: number;
  closed: boolean;
}

/** The input of a tool call: its JSON arguments parsed, or the raw text when they are not JSON. */
function toolInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function partId(streamId: string, part: Part): string {
  return `${streamId}-${part.index}`;
}

export class ChunkWriter {
  private readonly emitted: Emitted[] = [];
  private started = false;
  private finished = false;
  private status: StreamStatus | null = null;

  constructor(private readonly meta: Omit<PersistreamMessageMetadata, "status">) {}

  /** The chunks that bring the UI from what was emitted so far to `snapshot`; the last ones once it is final. */
  advance(snapshot: Pick<Snapshot, "parts" | "status" | "error" | "usage">): UIMessageChunk[] {
    if (this.finished) return [];
    const chunks: UIMessageChunk[] = [];
    if (!this.started) {
      this.started = true;
      chunks.push({
        type: "start",
        messageId: this.meta.streamId,
        messageMetadata: { ...this.meta, status: snapshot.status },
      });
    }
    const final = isFinal(snapshot.status);
    if (!final && this.status !== null && this.status !== snapshot.status)
      chunks.push({ type: "message-metadata", messageMetadata: { status: snapshot.status } });
    this.status = snapshot.status;
    snapshot.parts.forEach((part, i) => {
      const whole = final || i < snapshot.parts.length - 1;
      chunks.push(...this.partChunks(part, whole));
    });
    if (!final) return chunks;
    this.finished = true;
    const metadata = { ...this.meta, status: snapshot.status, usage: snapshot.usage, error: snapshot.error };
    if (snapshot.status === "DONE" || snapshot.status === "CANCELLED") {
      // CANCELLED keeps its text: a finished answer, cut short ("other", as the AI SDK has no "cancelled").
      chunks.push({ type: "finish", finishReason: snapshot.status === "DONE" ? "stop" : "other", messageMetadata: metadata });
    } else {
      chunks.push({ type: "message-metadata", messageMetadata: metadata });
      chunks.push({ type: "error", errorText: snapshot.error ?? `The answer ended ${snapshot.status}.` });
    }
    return chunks;
  }

  /** An error chunk for a refusal of the stream itself (NOT_FOUND, UNAUTHENTICATED...), once. */
  fail(errorText: string): UIMessageChunk[] {
    if (this.finished) return [];
    this.finished = true;
    return [{ type: "error", errorText }];
  }

  private partChunks(part: Part, whole: boolean): UIMessageChunk[] {
    const chunks: UIMessageChunk[] = [];
    const id = partId(this.meta.streamId, part);
    const toolCallId = part.toolCallId ?? id;
    let state = this.emitted[part.index];
    if (!state) {
      state = { length: 0, closed: false };
      this.emitted[part.index] = state;
      if (part.kind === "REASONING") chunks.push({ type: "reasoning-start", id });
      else if (part.kind === "TOOL_CALL")
        chunks.push({ type: "tool-input-start", toolCallId, toolName: part.toolName ?? "tool", dynamic: true });
      else if (part.kind !== "TOOL_RESULT") chunks.push({ type: "text-start", id });
    }
    if (state.closed) return chunks;
    const delta = part.text.slice(state.length);
    state.length = part.text.length;
    if (delta) {
      if (part.kind === "REASONING") chunks.push({ type: "reasoning-delta", id, delta });
      else if (part.kind === "TOOL_CALL") chunks.push({ type: "tool-input-delta", toolCallId, inputTextDelta: delta });
      else if (part.kind !== "TOOL_RESULT") chunks.push({ type: "text-delta", id, delta });
    }
    if (!whole) return chunks;
    state.closed = true;
    if (part.kind === "REASONING") chunks.push({ type: "reasoning-end", id });
    else if (part.kind === "TOOL_CALL")
      chunks.push({
        type: "tool-input-available",
        toolCallId,
        toolName: part.toolName ?? "tool",
        input: toolInput(part.text),
        dynamic: true,
      });
    else if (part.kind === "TOOL_RESULT")
      chunks.push(
        part.isError
          ? { type: "tool-output-error", toolCallId, errorText: part.text, dynamic: true }
          : { type: "tool-output-available", toolCallId, output: part.text, dynamic: true },
      );
    else chunks.push({ type: "text-end", id });
    return chunks;
  }
}

type UIPart = PersistreamUIMessage["parts"][number];

/** The UI parts of stored parts: a tool call with its result as one tool part, as the AI SDK shows it. */
function uiParts(parts: Part[], live: boolean): UIPart[] {
  const shown: UIPart[] = [];
  const calls = new Map<string, number>();
  const state = live ? "streaming" : "done";
  for (const part of parts) {
    const toolCallId = part.toolCallId ?? `part-${part.index}`;
    const toolName = part.toolName ?? "tool";
    if (part.kind === "REASONING") shown.push({ type: "reasoning", text: part.text, state });
    else if (part.kind === "TOOL_CALL") {
      calls.set(toolCallId, shown.length);
      shown.push({ type: "dynamic-tool", toolCallId, toolName, state: "input-available", input: toolInput(part.text) });
    } else if (part.kind === "TOOL_RESULT") {
      const at = calls.get(toolCallId);
      const call = at === undefined ? undefined : shown[at];
      const input = call?.type === "dynamic-tool" ? call.input : undefined;
      const result: UIPart = part.isError
        ? { type: "dynamic-tool", toolCallId, toolName, state: "output-error", input, errorText: part.text }
        : { type: "dynamic-tool", toolCallId, toolName, state: "output-available", input, output: part.text };
      if (at === undefined) shown.push(result);
      else shown[at] = result;
    } else shown.push({ type: "text", text: part.text, state });
  }
  return shown;
}

/** A branch of a thread (`client.branch(threadId)`) as the AI SDK's messages, for `useChat({ messages })`: each
 * prompt a user message with the persistream message's id, each answer an assistant message whose id is its
 * stream id (so resuming a live one replaces it rather than adding a copy). */
export function toUIMessages(messages: Message[]): PersistreamUIMessage[] {
  return messages.flatMap((message) => {
    const { response } = message;
    const metadata: PersistreamMessageMetadata = {
      threadId: message.threadId,
      messageId: message.id,
      streamId: message.responseStreamId,
      status: response.status,
      usage: response.usage,
      error: response.error,
    };
    return [
      { id: message.id, role: "user" as const, parts: [{ type: "text" as const, text: message.prompt }] },
      {
        id: message.responseStreamId,
        role: "assistant" as const,
        metadata,
        parts: uiParts(response.parts, !isFinal(response.status)),
      },
    ];
  });
}
