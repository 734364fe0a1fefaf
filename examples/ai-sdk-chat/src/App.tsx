// A chat page on the AI SDK's own `useChat` hook, with persistream behind it through PersistreamChatTransport.
// The chat's id is the persistream thread's: a new chat gets its thread with its first answer and keeps it in the
// URL (`#<thread id>`), so a reload opens the same thread, shows what is stored, and `resume: true` shows the
// answer still being written, whole, going on live. Stop cancels the answer on the server; a reload does not.
import { useEffect, useState, type FormEvent } from "react";
import { useChat } from "@ai-sdk/react";
import { createClient } from "persistream-client";
import { PersistreamChatTransport, toUIMessages, type PersistreamUIMessage } from "persistream-client/ai-sdk";

import { Parts } from "./Parts";

// The server's GraphQL endpoint: `?api=` wins (the tests serve the built app elsewhere), then VITE_PERSISTREAM_URL.
const api =
  new URLSearchParams(location.search).get("api") ?? import.meta.env.VITE_PERSISTREAM_URL ?? "http://localhost:8000/graphql";
// The server is on another origin: its anonymous identity cookie must go with every request.
const client = createClient({ url: api, credentials: "include" });
// One transport for the page. A new chat's thread goes into the URL without a navigation, so the chat goes on.
const transport = new PersistreamChatTransport({
  client,
  onThread: (threadId) => history.replaceState(null, "", `${location.pathname}${location.search}#${threadId}`),
});

function Usage({ message }: { message: PersistreamUIMessage }) {
  const usage = message.metadata?.usage;
  if (!usage) return null;
  const count = (n: number | null) => (n === null ? "?" : String(n));
  return (
    <p className="usage">
      <small>
        Tokens: {count(usage.inputTokens)} in, {count(usage.outputTokens)} out
        {usage.reasoningTokens !== null && ` (${usage.reasoningTokens} reasoning)`}
      </small>
    </p>
  );
}

function Chat({ id, initial }: { id: string | undefined; initial: PersistreamUIMessage[] }) {
  const { messages, sendMessage, status, stop, regenerate, error } = useChat<PersistreamUIMessage>({
    id,
    messages: initial,
    transport,
    resume: true,
  });
  const [input, setInput] = useState("");
  const busy = status === "submitted" || status === "streaming";
  const last = messages.at(-1);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!input.trim() || busy) return;
    void sendMessage({ text: input });
    setInput("");
  };

  return (
    <main>
      <ol>
        {messages.map((message) =>
          message.role === "user" ? (
            <li key={message.id} className="prompt">
              {message.parts.map((part) => (part.type === "text" ? part.text : "")).join("")}
            </li>
          ) : (
            <li
              key={message.id}
              className="answer"
              data-stream-id={message.metadata?.streamId ?? message.id}
              data-status={message.metadata?.status ?? ""}
            >
              <Parts parts={message.parts} live={busy && message === last} />
              {message.metadata?.status === "CANCELLED" && (
                <p>
                  <em>Stopped.</em>
                </p>
              )}
              <Usage message={message} />
            </li>
          ),
        )}
      </ol>
      {error && <p role="alert">Error: {error.message}</p>}
      {busy && <button onClick={() => void stop()}>Stop</button>}
      {!busy && last?.role === "assistant" && <button onClick={() => void regenerate()}>Regenerate</button>}
      <form onSubmit={submit}>
        <input aria-label="Message" value={input} onChange={(event) => setInput(event.target.value)} />
        <button type="submit" disabled={busy}>
          Send
        </button>
      </form>
    </main>
  );
}

export function App() {
  const threadId = location.hash.slice(1) || null;
  // A thread in the URL: its stored messages first (an answer still live among them is resumed by useChat).
  const [initial, setInitial] = useState<PersistreamUIMessage[] | null>(threadId ? null : []);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    if (!threadId) return;
    client.branch(threadId).then(
      (messages) => setInitial(toUIMessages(messages)),
      (e: Error) => setFailure(e.message),
    );
  }, [threadId]);
  return (
    <>
      <header>
        <h1>useChat on persistream</h1>
        {/* A new page: whatever this one was streaming goes on on the server, as after a reload. */}
        <a href={`${location.pathname}${location.search}`}>New chat</a>
      </header>
      {failure && <p role="alert">{failure}</p>}
      {initial && <Chat id={threadId ?? undefined} initial={initial} />}
    </>
  );
}
