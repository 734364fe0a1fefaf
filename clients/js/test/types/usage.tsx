// Typed use of the package, as an app would write it, through the package's own exports (checked by tsc in
// tests/e2e/test_js_client.py). Lines marked @ts-expect-error must stay errors: the declarations are precise.
import { createClient, PersistreamError, type Message, type Snapshot, type StreamStatus } from "persistream-client";
import { useStream } from "persistream-client/react";

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
  });
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
  // @ts-expect-error: there is no such status
  const bogus: StreamStatus = "RUNNING";
  void bogus;
  client.dispose();
  return last?.text ?? "";
}

export function Answer({ streamId }: { streamId: string | null }) {
  const { text, status, error, connection } = useStream(client, streamId, { drive: true });
  // @ts-expect-error: status is null while there is no stream id
  const always: StreamStatus = status;
  void always;
  return (
    <p data-status={status ?? ""} data-connection={connection}>
      {text}
      {error}
    </p>
  );
}
