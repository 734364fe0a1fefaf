// The chat: threads on the left, the open thread's messages, an input. The open thread (or a share token) is the
// URL's hash, so a reload, a bookmark or a shared link opens the same place. A thread is a tree: the app shows one
// branch of it, with Regenerate under an answer, Edit on a prompt and a "< 2 / 3 >" switcher between variants.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { createClient, type Message } from "persistream-client";
import { useStream } from "persistream-client/react";

import { branchOf, variantsOf } from "./Branches";
import { Parts, UsageLine } from "./Parts";

// The server's GraphQL endpoint: `?api=` wins (the tests serve the built app elsewhere), then VITE_PERSISTREAM_URL.
const api =
  new URLSearchParams(location.search).get("api") ?? import.meta.env.VITE_PERSISTREAM_URL ?? "http://localhost:8000/graphql";
// The server is on another origin: its anonymous identity cookie must go with every request.
const client = createClient({ url: api, credentials: "include" });

// A body's parts and cursor too: an answer still being written resumes from the cursor, in every part.
const MESSAGE = `id threadId parentId siblingIds prompt createdAt responseStreamId response { streamId text status error offset
  parts { index kind text toolName toolCallId isError } cursor usage { inputTokens outputTokens reasoningTokens } }`;
const THREADS = "query { threads { id title } }";
const MESSAGES = `query($id: ID!) { messages(threadId: $id) { ${MESSAGE} } }`;
const SHARED = `query($token: String!) { sharedThread(token: $token) { id messages { ${MESSAGE} } } }`;
const SHARE = "mutation($id: ID!) { shareThread(threadId: $id) { token } }";

type Thread = { id: string; title: string };

// How often an open thread is read again, to follow what other tabs add to it.
const FOLLOW_MS = 1500;

function useHash(): string {
  const [hash, setHash] = useState(location.hash.slice(1));
  useEffect(() => {
    const onChange = () => setHash(location.hash.slice(1));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return hash;
}

// One answer, live: driven when this tab sent it, otherwise observed from the server (after a reload, say), so it
// resumes from what is stored and never shows a character twice. Reasoning, tool calls and the text show as
// their parts arrive; the tokens used, under a finished answer.
function Answer({
  message,
  driven,
  shareToken,
  onRegenerate,
}: {
  message: Message;
  driven: boolean;
  shareToken: string | null;
  onRegenerate: () => void;
}) {
  const { status, error, connection, parts, usage } = useStream(client, message.responseStreamId, {
    drive: driven,
    shareToken,
    initial: message.response,
  });
  const live = status === "PENDING" || status === "STREAMING";
  return (
    <div className="answer" data-stream-id={message.responseStreamId} data-status={status}>
      {status === "PENDING" ? <p>thinking...</p> : <Parts parts={parts} live={live} />}
      {(error || status === "ERROR" || status === "TIMEOUT") && (
        <p role="alert">{status === "TIMEOUT" ? "Timed out" : "Error"}: {error ?? "no answer"}</p>
      )}
      {status === "CANCELLED" && <p><em>Stopped.</em></p>}
      {usage && !live && <UsageLine usage={usage} />}
      {connection === "reconnecting" && <small>reconnecting...</small>}
      {live && !shareToken && <button onClick={() => void client.cancel(message.responseStreamId)}>Stop</button>}
      {!live && !shareToken && <button onClick={onRegenerate}>Regenerate</button>}
    </div>
  );
}

// A prompt: its text, or (editing) an input where Enter sends the new prompt as a variant and Escape keeps the old.
function Prompt({ message, onEdit }: { message: Message; onEdit: ((prompt: string) => Promise<boolean>) | null }) {
  const [draft, setDraft] = useState<string | null>(null);
  if (draft === null)
    return (
      <p className="prompt">
        <span className="prompt-text">{message.prompt}</span>
        {onEdit && (
          <button aria-label="Edit prompt" onClick={() => setDraft(message.prompt)}>
            Edit
          </button>
        )}
      </p>
    );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (draft.trim() && (await onEdit?.(draft))) setDraft(null);
  };
  return (
    <form className="prompt-editor" onSubmit={(e) => void submit(e)}>
      <input
        aria-label="Edit your prompt"
        autoFocus
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && setDraft(null)}
      />
      <button type="submit">Save</button>
      <button type="button" onClick={() => setDraft(null)}>
        Cancel
      </button>
    </form>
  );
}

// "< 2 / 3 >": which variant of its prompt a message is, and the way to the others.
function Variants({ ids, id, onPick }: { ids: string[]; id: string; onPick: (id: string) => void }) {
  const at = ids.indexOf(id);
  if (ids.length < 2) return null;
  return (
    <div className="variants" role="group" aria-label="Variants">
      <button aria-label="Previous variant" disabled={at <= 0} onClick={() => onPick(ids[at - 1])}>
        ‹
      </button>
      <span className="variant-label">
        {at + 1} / {ids.length}
      </span>
      <button aria-label="Next variant" disabled={at >= ids.length - 1} onClick={() => onPick(ids[at + 1])}>
        ›
      </button>
    </div>
  );
}

export function App() {
  const hash = useHash();
  const shareToken = hash.startsWith("share=") ? hash.slice("share=".length) : null;
  const threadId = shareToken ? null : hash || null;
  const [threads, setThreads] = useState<Thread[]>([]);
  const [messages, setMessages] = useState<Message[]>([]);
  // The answers this tab asked for: only these are driven (like the seed's drivenIds).
  const [drivenIds, setDrivenIds] = useState<Set<string>>(new Set());
  const [prompt, setPrompt] = useState("");
  const [shareLink, setShareLink] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  // The variant picked with a switcher; null: the branch of the newest message. Kept in the URL (`?leaf=`), so a
  // reload shows the same variant; the thread it belongs to is remembered, so only opening another thread resets it.
  const [leafId, setLeafState] = useState<string | null>(() => new URLSearchParams(location.search).get("leaf"));
  const leafThread = useRef(threadId);
  function setLeafId(id: string | null) {
    setLeafState(id);
    const url = new URL(location.href);
    if (id) url.searchParams.set("leaf", id);
    else url.searchParams.delete("leaf");
    history.replaceState(history.state, "", url);
  }
  const shown = branchOf(messages, leafId);

  const loadThreads = () =>
    client.request<{ threads: Thread[] }>(THREADS).then((data) => setThreads(data.threads), (e: Error) => setFailure(e.message));
  useEffect(() => void loadThreads(), []);

  useEffect(() => {
    let current = true;
    setShareLink(null);
    if (leafThread.current !== threadId) {
      leafThread.current = threadId;
      setLeafId(null);
    }
    setMessages((held) => held.filter((m) => m.threadId === threadId));
    const load = shareToken
      ? client.request<{ sharedThread: { messages: Message[] } }>(SHARED, { token: shareToken }).then((d) => d.sharedThread.messages)
      : threadId
        ? client.request<{ messages: Message[] }>(MESSAGES, { id: threadId }).then((d) => d.messages)
        : Promise.resolve([]);
    load.then(
      // Keep what was sent meanwhile (the first message of a new thread is sent before its thread is opened).
      (loaded) => current && setMessages((held) => [...loaded, ...held.filter((m) => m.threadId === threadId && !loaded.some((l) => l.id === m.id))]),
      (e: Error) => current && setFailure(e.message),
    );
    // Follow the thread: a message another tab sent, regenerated or edited appears here, and its branch is shown
    // (as a new prompt always was), unless this tab picked a variant by hand.
    const follow = setInterval(() => {
      const again = shareToken
        ? client.request<{ sharedThread: { messages: Message[] } }>(SHARED, { token: shareToken }).then((d) => d.sharedThread.messages)
        : threadId
          ? client.request<{ messages: Message[] }>(MESSAGES, { id: threadId }).then((d) => d.messages)
          : Promise.resolve([]);
      again.then(
        (loaded) =>
          current &&
          setMessages((held) => {
            const fresh = loaded.filter((l) => !held.some((m) => m.id === l.id));
            if (fresh.length === 0) return held;
            // Sibling lists grow with a new variant: take the server's list whole, keep what this tab sent meanwhile.
            return [...loaded, ...held.filter((m) => m.threadId === threadId && !loaded.some((l) => l.id === m.id))];
          }),
        () => {}, // a missed poll is retried at the next one
      );
    }, FOLLOW_MS);
    return () => {
      current = false;
      clearInterval(follow);
    };
  }, [threadId, shareToken]);

  async function send(event: FormEvent) {
    event.preventDefault();
    if (!prompt.trim()) return;
    try {
      // On a variant picked by hand, the prompt continues that branch.
      const parentId = threadId && leafId ? (shown.at(-1)?.id ?? null) : null;
      const message = await client.sendMessage(prompt, { threadId, parentId });
      added(message);
      setPrompt("");
      setFailure(null);
      if (message.threadId !== threadId) {
        location.hash = message.threadId;
        void loadThreads();
      }
    } catch (e) {
      setFailure((e as Error).message);
    }
  }

  // A new message of this tab (sent, regenerated or edited): driven here, and its branch shown.
  function added(message: Message) {
    setDrivenIds((ids) => new Set(ids).add(message.responseStreamId));
    setMessages((held) => [...held.filter((m) => m.threadId === message.threadId), message]);
    setLeafId(null);
  }

  async function variant(make: () => Promise<Message>): Promise<boolean> {
    try {
      added(await make());
      setFailure(null);
      return true;
    } catch (e) {
      setFailure((e as Error).message);
      return false;
    }
  }

  async function share() {
    const { shareThread } = await client.request<{ shareThread: { token: string } }>(SHARE, { id: threadId });
    setShareLink(`${location.origin}${location.pathname}${location.search}#share=${shareThread.token}`);
  }

  return (
    <>
      <nav>
        <button onClick={() => (location.hash = "")}>New thread</button>
        {threads.map((t) => (
          <button key={t.id} aria-current={t.id === threadId} onClick={() => (location.hash = t.id)}>
            {t.title}
          </button>
        ))}
      </nav>
      <main>
        {threadId && <button onClick={() => void share()}>Share</button>}
        {shareLink && <input readOnly aria-label="Share link" value={shareLink} />}
        <ol>
          {shown.map((m) => (
            <li key={m.id}>
              <Variants ids={variantsOf(messages, m)} id={m.id} onPick={setLeafId} />
              <Prompt
                message={m}
                onEdit={shareToken ? null : (text) => variant(() => client.editMessage(m.id, text))}
              />
              <Answer
                message={m}
                driven={drivenIds.has(m.responseStreamId)}
                shareToken={shareToken}
                onRegenerate={() => void variant(() => client.regenerate(m.id))}
              />
            </li>
          ))}
        </ol>
        {failure && <p role="alert">{failure}</p>}
        {!shareToken && (
          <form onSubmit={(e) => void send(e)}>
            <input aria-label="Message" value={prompt} onChange={(e) => setPrompt(e.target.value)} placeholder="Ask something" />
            <button type="submit">Send</button>
          </form>
        )}
      </main>
    </>
  );
}
