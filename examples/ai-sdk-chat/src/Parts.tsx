// An assistant message's parts as the AI SDK hands them to useChat: reasoning in a block the reader can fold (open
// while the model thinks, folded by itself once the text starts), a tool call with its name, input and output, the
// text. All of it as plain text: React never renders a string as HTML, and a tool's output is untrusted.
import { useState } from "react";
import type { PersistreamUIMessage } from "persistream-client/ai-sdk";

type Part = PersistreamUIMessage["parts"][number];

function Reasoning({ text, settled }: { text: string; settled: boolean }) {
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
      <p className="reasoning-text">{text}</p>
    </details>
  );
}

function ToolCall({ part }: { part: Extract<Part, { type: "dynamic-tool" }> }) {
  return (
    <div className="tool-call" data-tool-call-id={part.toolCallId} data-state={part.state}>
      <p>
        Tool <code className="tool-name">{part.toolName}</code>
      </p>
      {part.input !== undefined && <pre className="tool-input">{JSON.stringify(part.input)}</pre>}
      {part.state === "output-available" && <pre className="tool-output">{String(part.output)}</pre>}
      {part.state === "output-error" && <pre className="tool-output tool-error">{part.errorText}</pre>}
      {part.state.startsWith("input-") && <p>running...</p>}
    </div>
  );
}

export function Parts({ parts, live }: { parts: Part[]; live: boolean }) {
  return (
    <>
      {parts.map((part, i) => {
        switch (part.type) {
          case "text":
            return (
              <p className="text" key={i}>
                {part.text}
              </p>
            );
          case "reasoning": {
            const textStarted = parts.slice(i + 1).some((p) => p.type === "text");
            return <Reasoning key={i} text={part.text} settled={textStarted || !live} />;
          }
          case "dynamic-tool":
            return <ToolCall key={i} part={part} />;
          default:
            return null; // step markers, and parts this transport does not send
        }
      })}
    </>
  );
}
