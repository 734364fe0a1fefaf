// What an answer holds besides its text: the model's reasoning, its tool calls with their results, and any kind
// of part a newer server adds. Drawn above the answer's text, in the order the model produced them.
//
// Invariants:
// - Every part's text is untrusted (the model's, or whatever a tool returned): it only ever reaches the page as
//   textContent, never as HTML and never through the Markdown renderer.
// - A part's element is made once and then only updated (parts only grow), so a block the reader opened or
//   folded, and the focus inside it, survive every redraw.
// - A reasoning or tool block is open while no answer text follows it and folds itself once some does (a finished
//   answer reads as its text, with what led to it one click away); as soon as the reader opens or folds a block,
//   their choice wins for as long as the answer is on screen.

const REASONING = "REASONING";
const TOOL_CALL = "TOOL_CALL";
const TOOL_RESULT = "TOOL_RESULT";
const TEXT = "TEXT";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// JSON that parses (an object or a list) is shown indented; anything else, such as arguments still being
// written, exactly as it came.
export function prettyJson(text) {
  try {
    const value = JSON.parse(text);
    if (value !== null && typeof value === "object") return JSON.stringify(value, null, 2);
  } catch {
    // not (yet) JSON
  }
  return text;
}

// A <details> whose auto-chosen state gives way to the reader's for good once they toggle it themselves.
class Foldable {
  constructor(className, open) {
    this.root = element("details", `part ${className}`);
    this.summary = element("summary", "part-summary");
    this.root.append(this.summary);
    this.auto = open;
    this.pinned = false;
    this.root.open = open;
    // `toggle` also fires for the page's own changes, later; only a state the page did not set is the reader's.
    this.root.addEventListener("toggle", () => {
      if (this.root.open !== this.auto) this.pinned = true;
    });
  }

  autoOpen(open) {
    this.auto = open;
    if (!this.pinned && this.root.open !== open) this.root.open = open;
  }
}

class ReasoningView extends Foldable {
  constructor() {
    super("reasoning", true);
    this.label = element("span", "part-label", "Reasoning");
    this.state = element("span", "part-state");
    this.summary.append(this.label, " ", this.state); // spaces: the summary's accessible name is its text
    this.text = element("div", "part-text reasoning-text");
    this.root.append(this.text);
  }

  update(part, { growing, textAfter }) {
    setText(this.text, part.text);
    setText(this.state, growing ? "thinking…" : "");
    this.root.dataset.live = String(growing);
    this.autoOpen(!textAfter);
  }
}

class ToolView extends Foldable {
  constructor(part) {
    super("tool", true);
    this.name = part.toolName ?? "tool";
    this.callId = part.toolCallId;
    this.state = element("span", "part-state");
    const name = element("code", "tool-name", this.name);
    this.summary.append(element("span", "part-label", "Tool"), " ", name, " ", this.state);
    this.args = this.section("Arguments", "tool-args");
    // A result whose call is not on screen stands alone, without arguments.
    this.args.box.hidden = part.kind === TOOL_RESULT;
    this.result = null;
    this.failed = false;
  }

  section(caption, className) {
    const box = element("div", `tool-section ${className}`);
    const heading = element("p", "tool-caption", caption);
    const body = element("pre", "tool-text");
    box.append(heading, body);
    this.root.append(box);
    return { box, heading, body };
  }

  update(part, { growing, live, textAfter }) {
    this.autoOpen(!textAfter);
    if (part.kind === TOOL_RESULT) this.updateResult(part);
    // While the model writes them the arguments are not JSON yet: raw until they parse.
    else setText(this.args.body, growing ? part.text : prettyJson(part.text));
    let state = "running";
    if (this.result) state = this.failed ? "failed" : "done";
    else if (!live) state = "no result";
    this.root.dataset.state = state;
    setText(this.state, STATES[state]);
  }

  updateResult(part) {
    if (!this.result) {
      this.result = this.section("Result", "tool-result");
      // A long result scrolls inside its box; a focusable box can be scrolled from the keyboard.
      this.result.body.tabIndex = 0;
      this.result.body.setAttribute("aria-label", `What ${this.name} returned`);
    }
    this.failed = part.isError;
    this.result.box.classList.toggle("is-error", part.isError);
    setText(this.result.heading, part.isError ? "Error" : "Result");
    setText(this.result.body, prettyJson(part.text));
  }
}

const STATES = { running: "running…", done: "", failed: "failed", "no result": "no result" };

// A part of a kind this page does not know: its text, plainly, under the kind's name.
class OtherView {
  constructor(part) {
    this.root = element("div", "part other");
    this.root.append(element("p", "part-label", part.kind), (this.text = element("div", "part-text")));
  }

  update(part) {
    setText(this.text, part.text);
  }
}

export class PartsView {
  constructor() {
    this.root = element("div", "answer-parts");
    this.root.hidden = true;
    this.views = new Map(); // part index -> its view (a result's is its call's)
    this.tools = []; // every ToolView, in order
  }

  // parts: the answer's parts, in order; live: whether the answer can still grow.
  update(parts, live) {
    const textAfter = new Array(parts.length); // whether some answer text comes after each part
    let seen = false;
    for (let i = parts.length - 1; i >= 0; i -= 1) {
      textAfter[i] = seen;
      seen ||= parts[i].kind === TEXT && Boolean(parts[i].text);
    }
    parts.forEach((part, i) => {
      if (part.kind === TEXT) return;
      const growing = live && i === parts.length - 1;
      this.viewFor(part).update(part, { growing, live, textAfter: textAfter[i] });
    });
    this.root.hidden = this.views.size === 0;
  }

  viewFor(part) {
    let view = this.views.get(part.index);
    if (view) return view;
    view = part.kind === TOOL_RESULT ? this.callOf(part) : null;
    if (!view) {
      if (part.kind === REASONING) view = new ReasoningView();
      else if (part.kind === TOOL_CALL || part.kind === TOOL_RESULT) view = new ToolView(part);
      else view = new OtherView(part);
      if (view instanceof ToolView) this.tools.push(view);
      this.root.append(view.root); // parts only ever come after the ones before them
    }
    this.views.set(part.index, view);
    return view;
  }

  // The call a result answers: by its id, or (a model that sent no ids) the latest call of that tool still
  // without a result.
  callOf(part) {
    const open = this.tools.filter((view) => !view.result && !view.args.box.hidden);
    if (part.toolCallId) return open.find((view) => view.callId === part.toolCallId) ?? null;
    return open.findLast((view) => view.name === (part.toolName ?? "tool")) ?? null;
  }
}
