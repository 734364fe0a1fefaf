// A test page for useStream (bundled by esbuild in tests/browser/test_react_hook.py, served from another origin
// than the server): under <StrictMode>, "Ask A" sends a prompt and drives its answer; "Ask B" sends a second one
// and switches the same component to the new stream id while A is still being written. Every part is shown in
// order (its kind, tool name and text, as text), then the usage.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";

import { createClient } from "../../dist/index.js";
import { useStream } from "../../dist/react.js";

const params = new URLSearchParams(window.location.search);
window.__sent = []; // every frame the page sent over a WebSocket
window.__renders = []; // every (stream id, text, status, parts) the Answer component rendered

class RecordingWebSocket extends WebSocket {
  send(data) {
    window.__sent.push(JSON.parse(data));
    super.send(data);
  }
}

const client = createClient({ url: params.get("api"), WebSocket: RecordingWebSocket });

function Answer({ streamId }) {
  const { text, status, error, connection, parts, cursor, usage } = useStream(client, streamId, { drive: true });
  window.__renders.push({ streamId, text, status, parts, cursor });
  return (
    <article id="answer" data-stream-id={streamId ?? ""} data-status={status ?? ""} data-connection={connection}>
      <p id="text">{text}</p>
      <ol id="parts">
        {parts.map((part) => (
          <li key={part.index} className="part" data-index={part.index} data-kind={part.kind} data-tool-name={part.toolName ?? ""}>
            {part.text}
          </li>
        ))}
      </ol>
      {usage ? <p id="usage">{`${usage.inputTokens} in, ${usage.outputTokens} out, ${usage.reasoningTokens} reasoning`}</p> : null}
      {error ? <p id="error">{error}</p> : null}
    </article>
  );
}

function App() {
  const [streamId, setStreamId] = useState(null);
  const ask = async (prompt) => {
    const message = await client.sendMessage(prompt);
    (window.__streams ??= []).push(message.responseStreamId);
    setStreamId(message.responseStreamId);
  };
  return (
    <main>
      <button id="ask-a" onClick={() => ask(params.get("a"))}>Ask A</button>
      <button id="ask-b" onClick={() => ask(params.get("b"))}>Ask B</button>
      <Answer streamId={streamId} />
    </main>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
