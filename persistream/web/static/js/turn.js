// One prompt and its answer on screen. The answer is the latest snapshot of its stream (the client keeps the text
// exactly as the server has it); the DOM is redrawn from it, at most every RENDER_MS while tokens pour in
// (Markdown is re-rendered whole, so a long fast answer would otherwise re-render on every event), and at once
// when the status changes.

import { isFinal } from "../vendor/persistream-client/index.js";
import { renderMarkdown } from "./markdown.js";

const LIVE = new Set(["PENDING", "STREAMING"]);

function answerOf({ text = "", offset = 0, status = "PENDING", error = null } = {}) {
  return { text, offset, status, error: error ?? null };
}

const RENDER_MS = 50;

const LABELS = {
  PENDING: "Thinking…",
  STREAMING: "Writing…",
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

export class Turn {
  // message: a Message from the API; onStop(turn) asks to cancel; onRendered() after every redraw. A readOnly
  // turn (a shared thread) has no Stop button: only the owner may cancel.
  constructor(message, { onStop, onRendered, readOnly = false }) {
    this.readOnly = readOnly;
    this.message = message;
    this.streamId = message.responseStreamId;
    this.answer = answerOf(message.response);
    this.onRendered = onRendered;
    this.follow = null;
    this.timer = undefined;
    this.renderedStatus = null;

    this.root = element("li", "turn");
    this.root.dataset.messageId = message.id;

    const prompt = element("div", "prompt");
    prompt.append(element("span", "who visually-hidden", readOnly ? "Prompt:" : "You:"), element("p", "prompt-text", message.prompt));

    this.article = element("article", "answer");
    this.article.dataset.streamId = this.streamId;
    this.article.setAttribute("aria-label", "Answer");
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
    footer.append(this.state, this.errorText, this.stopButton);
    this.article.append(this.body, footer);
    this.root.append(prompt, this.article);
    this.render();
  }

  get live() {
    return LIVE.has(this.answer.status);
  }

  // A snapshot of the followed stream; only a change of text, status or error is redrawn.
  apply(snapshot) {
    const before = this.answer;
    if (snapshot.text === before.text && snapshot.status === before.status && snapshot.error === before.error) return;
    this.answer = answerOf(snapshot);
    if (this.answer.status !== before.status) this.render();
    else this.scheduleRender();
  }

  // Shows a state the page itself decided on (the stream could not be followed, or a cancel's answer).
  replace(body) {
    this.answer = answerOf(body);
    this.render();
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
    const { text, status, error } = this.answer;
    this.body.innerHTML = renderMarkdown(text);
    if (status !== this.renderedStatus) {
      this.renderedStatus = status;
      this.article.dataset.status = status;
      this.article.setAttribute("aria-busy", String(LIVE.has(status)));
      this.state.textContent = LABELS[status] ?? status;
      this.stopButton.hidden = this.readOnly || !LIVE.has(status);
      if (isFinal(status)) this.follow = null;
    }
    if (!this.article.dataset.problem) this.errorText.textContent = error ?? "";
    this.onRendered?.();
  }

  dispose() {
    clearTimeout(this.timer);
    this.follow?.close();
    this.follow = null;
  }
}
