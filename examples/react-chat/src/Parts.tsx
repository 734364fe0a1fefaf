// An answer's parts, in order: reasoning in a block the reader can fold (open while the model thinks, folded by
// itself once the answer's text starts), a tool call with its name, arguments and result, the text as Markdown.
// Everything but the answer's text is shown as plain text: a tool's result is untrusted, like the model's output,
// and React never renders a string as HTML (react-markdown, for the text, ignores raw HTML too).
import { useState } from "react";
import Markdown from "react-markdown";
import type { Part, Usage } from "persistream-client";

function Reasoning({ part, settled }: { part: Part; settled: boolean }) {
  // null until the reader folds or unfolds it; then their choice wins over the automatic one.
  const [chosen, setChosen] = useState<boolean | null>(null);
  const open = chosen ?? !settled;
  return (
    <details
      className="reasoning"
      open={open}
      // Fires for our own changes too: only a change we did not make is the reader's.
      onToggle={(event) => event.currentTarget.open !== open && setChosen(event.currentTarget.open)}
    >
      <summary>{settled ? "Reasoning" : "Thinking..."}</summary>
      <p className="reasoning-text">{part.text}</p>
    </details>
  );
}

function ToolCall({ call, result }: { call: Part; result: Part | undefined }) {
  return (
    <div className="tool-call" data-tool-call-id={call.toolCallId ?? ""}>
      <p>
        Tool <code className="tool-name">{call.toolName}</code>
      </p>
      <pre className="tool-arguments">{call.text}</pre>
      {result ? <ToolResult part={result} /> : <p className="tool-running">running...</p>}
    </div>
  );
}

function ToolResult({ part }: { part: Part }) {
  return (
    <pre className={part.isError ? "tool-result tool-error" : "tool-result"} data-error={part.isError}>
      {part.text}
    </pre>
  );
}

export function Parts({ parts, live }: { parts: Part[]; live: boolean }) {
  const called = new Set(parts.filter((p) => p.kind === "TOOL_CALL").map((p) => p.toolCallId));
  return (
    <>
      {parts.map((part) => {
        switch (part.kind) {
          case "TEXT":
            return (
              <div className="text" key={part.index}>
                <Markdown>{part.text}</Markdown>
              </div>
            );
          case "REASONING": {
            const textStarted = parts.some((p) => p.kind === "TEXT" && p.index > part.index);
            return <Reasoning key={part.index} part={part} settled={textStarted || !live} />;
          }
          case "TOOL_CALL": {
            const result = parts.find((p) => p.kind === "TOOL_RESULT" && p.toolCallId === part.toolCallId);
            return <ToolCall key={part.index} call={part} result={result} />;
          }
          case "TOOL_RESULT":
            // Shown with its call; a result whose call is not here is shown alone.
            return called.has(part.toolCallId) ? null : <ToolResult key={part.index} part={part} />;
          default:
            // A kind this app does not know (a newer server's): its text, as text.
            return (
              <p className="part-other" key={part.index} data-kind={part.kind}>
                {part.text}
              </p>
            );
        }
      })}
    </>
  );
}

export function UsageLine({ usage }: { usage: Usage }) {
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
