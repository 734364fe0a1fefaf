// Typed use of the package, as an app would write it, through the package's own exports (checked by tsc in
// tests/e2e/test_js_client.py). Lines marked @ts-expect-error must stay errors: the declarations are precise.
import {
  createClient,
  PersistreamError,
  type Message,
  type Part,
  type PartKind,
  type Snapshot,
  type StreamStatus,
  type Usage,
} from "persistream-client";
import { useStream } from "persistream-client/react";
import type { ChatTransport, UIMessage } from "ai";
import {
  PersistreamChatTransport,
  toUIMessages,
  type PersistreamMessageMetadata,
  type PersistreamUIMessage,
} from "persistream-client/ai-sdk";

const client = createClient({
  url: "http://127.0.0.1:8000/graphql",
  headers: () => ({ Authorization: "Bearer token" }),
  connectionParams: { Authorization: "Bearer token" },
});

export async function ask(threadId: string | null): Promise<string> {
  const message: Message = await client.sendMessage("Hello", { threadId });
  const stream = client.stream(message.responseStreamId, { drive: true });
  const stop: () => void = stream.subscribe((s: Snapshot) => {
    const status: StreamStatus = s.status;
    const connection: "connecting" | "open" | "reconnecting" = s.connection;
    void [status, connection, s.offset.toFixed(), s.error?.toUpperCase()];
    for (const part of s.parts) {
      const kind: PartKind = part.kind;
      void [kind, part.index.toFixed(), part.text.length, part.toolName?.length, part.toolCallId?.length, part.isError];
    }
    const cursor: string | null = s.cursor;
    const usage: Usage | null = s.usage;
    void [cursor, usage?.inputTokens?.toFixed(), usage?.outputTokens, usage?.reasoningTokens];
  });
  // A body resumes where it stands: its parts and cursor seed a stream.
  const resumed = client.stream(message.responseStreamId, { initial: message.response });
  const parts: Part[] = message.response.parts;
  void [resumed, parts, message.response.cursor.length];
  // A newer server's kind is still a PartKind.
  const newer: PartKind = "IMAGE";
  void newer;
  let last: Snapshot | undefined;
  for await (const s of stream) last = s;
  stop();
  const body = await stream.cancel();
  const status: StreamStatus = body.status;
  void status;
  stream.close();
  try {
    await client.stream("id", { shareToken: "token" }).done;
  } catch (error) {
    if (error instanceof PersistreamError) void [error.code, error.retryAfter];
  }
  // @ts-expect-error: a snapshot's text is a string
  const wrong: number = last!.text;
  void wrong;
  // @ts-expect-error: a part's tool name may be null
  const name: string = last!.parts[0]!.toolName;
  void name;
  // @ts-expect-error: usage's counts may be null
  const tokens: number = last!.usage!.inputTokens;
  void tokens;
  // @ts-expect-error: there is no such status
  const bogus: StreamStatus = "RUNNING";
  void bogus;
  client.dispose();
  return last?.text ?? "";
}

export function Answer({ streamId }: { streamId: string | null }) {
  const { text, status, error, connection, parts, usage } = useStream(client, streamId, { drive: true });
  // @ts-expect-error: status is null while there is no stream id
  const always: StreamStatus = status;
  void always;
  return (
    <p data-status={status ?? ""} data-connection={connection}>
      {text}
      {parts.map((p: Part) => (
        <span key={p.index}>{p.text}</span>
      ))}
      {usage?.outputTokens}
      {error}
    </p>
  );
}

// The AI SDK's useChat takes the transport as its ChatTransport, for plain UI messages or with the metadata typed.
export const plain: ChatTransport<UIMessage> = new PersistreamChatTransport({ client });
export const typed: ChatTransport<PersistreamUIMessage> = new PersistreamChatTransport<PersistreamUIMessage>({
  client,
  storage: null,
  onThread: (threadId: string, chatId: string) => void [threadId, chatId],
});
// @ts-expect-error: the client is required
export const clientless = new PersistreamChatTransport({});

export async function history(threadId: string): Promise<PersistreamUIMessage[]> {
  const messages = toUIMessages(await client.branch(threadId));
  const meta: PersistreamMessageMetadata | undefined = messages[1]?.metadata;
  void meta?.usage?.outputTokens;
  return messages;
}
