// One prompt and its answer on screen. The answer is the latest snapshot of its stream (the client keeps the text
// and the parts exactly as the server has them); the DOM is redrawn from it, at most every RENDER_MS while tokens
// pour in (Markdown is re-rendered whole, so a long fast answer would otherwise re-render on every event), and at
// once when the status changes. The answer's text is Markdown; its other parts (reasoning, tool calls) are drawn
// above it by PartsView, as plain text; its token usage goes under it once it is final.
//
// A turn also offers what makes a variant of it (Regenerate under a final answer, Edit on the prompt: in place,
// Enter sends, Escape keeps the old prompt) and, when it has siblings, the "< 2 / 3 >" switcher; the chat decides
// what each does. A read-only turn (a shared thread) has the switcher only.

import { isFinal } from "../vendor/persistream-client/index.js";
import { renderMarkdown } from "./markdown.js";
import { PartsView } from "./parts.js";

const LIVE = new Set(["PENDING", "STREAMING"]);

// What the page keeps of an answer. `cursor` goes back to the client as `initial`, so following resumes after
// everything already shown, in every part.
function answerOf({ text = "", offset = 0, status = "PENDING", error = null, parts, cursor, usage } = {}) {
  return {
    text,
    offset,
    status,
    error: error ?? null,
    parts: parts ?? [],
    cursor: cursor ?? null,
    usage: usage ?? null,
  };
}

// What the answer is doing while it is live, from what the model is producing right now.
function liveLabel(status, parts) {
  const kind = parts[parts.length - 1]?.kind;
  if (status === "PENDING" || kind === "REASONING") return "Thinking…";
  if (kind === "TOOL_CALL" || kind === "TOOL_RESULT") return "Using a tool…";
  return "Writing…";
}

function usageText(usage) {
  if (!usage) return "";
  const { inputTokens: input, outputTokens: output, reasoningTokens: reasoning } = usage;
  const counts = [];
  if (input != null) counts.push(`${input.toLocaleString()} in`);
  if (output != null) counts.push(`${output.toLocaleString()} out`);
  if (reasoning != null) counts.push(`${reasoning.toLocaleString()} reasoning`);
  return counts.length ? `Tokens: ${counts.join(" · ")}` : "";
}

const RENDER_MS = 50;

const LABELS = {
  DONE: "Done",
  ERROR: "Error",
  TIMEOUT: "Timed out",
  CANCELLED: "Stopped",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(className, text, label) {
  const node = element("button", `button ${className}`, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

export class Turn {
  // message: a Message from the API; onStop(turn) asks to cancel; onRendered() after every redraw;
  // onRegenerate(turn), onEdit(turn, prompt) (a promise of whether the edit was sent) and onSwitch(turn, step)
  // (step -1 or +1: the previous or next variant). A readOnly turn (a shared thread) has no Stop, Regenerate or
  // Edit: only the owner may cancel or make variants.
  constructor(message, { onStop, onRendered, onRegenerate, onEdit, onSwitch, readOnly = false }) {
    this.readOnly = readOnly;
    this.message = message;
    this.streamId = message.responseStreamId;
    this.answer = answerOf(message.response);
    this.onRendered = onRendered;
    this.follow = null;
    this.timer = undefined;
    this.renderedStatus = null;
    this.renderedText = null;

    this.root = element("li", "turn");
    this.root.dataset.messageId = message.id;

    this.onEdit = onEdit;
    this.prompt = element("div", "prompt");
    this.promptText = element("p", "prompt-text", message.prompt);
    this.prompt.append(element("span", "who visually-hidden", readOnly ? "Prompt:" : "You:"), this.promptText);
    const tools = element("div", "prompt-tools");
    this.variants = element("div", "variants");
    this.variants.setAttribute("role", "group");
    this.variants.setAttribute("aria-label", "Variants");
    this.variants.hidden = true;
    this.previousButton = button("variant-previous", "‹", "Previous variant");
    this.nextButton = button("variant-next", "›", "Next variant");
    this.variantLabel = element("span", "variant-label");
    this.previousButton.addEventListener("click", () => onSwitch?.(this, -1));
    this.nextButton.addEventListener("click", () => onSwitch?.(this, 1));
    this.variants.append(this.previousButton, this.variantLabel, this.nextButton);
    tools.append(this.variants);
    if (!readOnly) {
      this.editButton = button("edit", "Edit", "Edit prompt");
      this.editButton.addEventListener("click", () => this.startEditing());
      tools.append(this.editButton);
    }
    this.prompt.append(tools);

    this.article = element("article", "answer");
    this.article.dataset.streamId = this.streamId;
    this.article.setAttribute("aria-label", "Answer");
    this.parts = new PartsView();
    this.body = element("div", "answer-body markdown");
    const footer = element("div", "answer-footer");
    this.state = element("span", "answer-state");
    this.errorText = element("span", "answer-error");
    this.stopButton = element("button", "button stop", "Stop");
    this.stopButton.type = "button";
    this.stopButton.addEventListener("click", () => {
      this.stopButton.disabled = true;
      this.stopButton.textContent = "Stopping…";
      onStop(this);
    });
    this.regenerateButton = button("regenerate", "Regenerate");
    this.regenerateButton.hidden = true;
    this.regenerateButton.addEventListener("click", () => onRegenerate?.(this));
    this.usage = element("span", "answer-usage");
    footer.append(this.state, this.errorText, this.stopButton, this.regenerateButton, this.usage);
    this.article.append(this.parts.root, this.body, footer);
    this.root.append(this.prompt, this.article);
    this.render();
  }

  get live() {
    return LIVE.has(this.answer.status);
  }

  // A snapshot of the followed stream; only a change of text, parts, status, error or usage is redrawn.
  apply(snapshot) {
    const before = this.answer;
    const next = answerOf(snapshot);
    if (
      next.text === before.text &&
      next.status === before.status &&
      next.error === before.error &&
      next.usage === before.usage &&
      next.parts === before.parts // the client makes a new list only when a part changed
    )
      return;
    this.answer = next;
    if (this.answer.status !== before.status) this.render();
    else this.scheduleRender();
  }

  // Shows a state the page itself decided on (the stream could not be followed, or a cancel's answer).
  replace(body) {
    this.answer = answerOf({ ...this.answer, ...body }); // a body without parts keeps the ones on screen
    this.render();
  }

  // This message is variant `index` (from 0) of `count`.
  setVariants(index, count) {
    this.variants.hidden = count < 2;
    this.variantLabel.textContent = `${index + 1} / ${count}`;
    this.previousButton.disabled = index <= 0;
    this.nextButton.disabled = index >= count - 1;
  }

  // The prompt becomes an editor in place: Enter sends the new prompt as a variant, Shift+Enter is a new line,
  // Escape (or Cancel) puts the old prompt back.
  startEditing() {
    if (this.editor) return;
    const editor = element("div", "prompt-editor");
    const box = element("textarea", "prompt-edit-input");
    box.value = this.message.prompt;
    box.rows = Math.min(8, this.message.prompt.split("\n").length + 1);
    box.setAttribute("aria-label", "Edit your prompt");
    const save = button("edit-save", "Send");
    const cancel = button("edit-cancel", "Cancel");
    const submit = async () => {
      if (!box.value.trim() || box.disabled) return;
      box.disabled = save.disabled = true;
      const sent = await this.onEdit?.(this, box.value);
      box.disabled = save.disabled = false;
      if (sent) this.stopEditing(false);
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.stopEditing(true);
      }
    });
    save.addEventListener("click", submit);
    cancel.addEventListener("click", () => this.stopEditing(true));
    editor.append(box, save, cancel);
    this.editor = editor;
    this.promptText.replaceWith(editor);
    this.editButton.hidden = true;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  stopEditing(refocus) {
    if (!this.editor) return;
    this.editor.replaceWith(this.promptText);
    this.editor = null;
    this.editButton.hidden = false;
    if (refocus) this.editButton.focus();
  }

  showProblem(message) {
    this.errorText.textContent = message;
    this.article.dataset.problem = "true";
  }

  stopButtonFailed() {
    this.stopButton.disabled = false;
    this.stopButton.textContent = "Stop";
  }

  scheduleRender() {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.render(), RENDER_MS);
  }

  render() {
    clearTimeout(this.timer);
    this.timer = undefined;
    const { text, status, error, parts, usage } = this.answer;
    const live = LIVE.has(status);
    this.parts.update(parts, live);
    if (text !== this.renderedText) {
      this.renderedText = text;
      this.body.innerHTML = renderMarkdown(text);
    }
    const label = live ? liveLabel(status, parts) : (LABELS[status] ?? status);
    if (this.state.textContent !== label) this.state.textContent = label;
    if (status !== this.renderedStatus) {
      this.renderedStatus = status;
      this.article.dataset.status = status;
      this.article.setAttribute("aria-busy", String(live));
      this.stopButton.hidden = this.readOnly || !live;
      this.regenerateButton.hidden = this.readOnly || live;
      if (isFinal(status)) this.follow = null;
    }
    this.usage.textContent = live ? "" : usageText(usage);
    if (!this.article.dataset.problem) this.errorText.textContent = error ?? "";
    this.onRendered?.();
  }

  dispose() {
    clearTimeout(this.timer);
    this.follow?.close();
    this.follow = null;
  }
}
