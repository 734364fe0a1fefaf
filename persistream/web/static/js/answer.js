// One answer's text and status, kept exactly as the server has it from the events of one subscription after
// another (a drive, then observers after reconnects). Offsets come from the server and are only handed back;
// the one place the page counts code points is the cut the contract asks for, below.

export const FINAL = new Set(["DONE", "ERROR", "TIMEOUT", "CANCELLED"]);
export const LIVE = new Set(["PENDING", "STREAMING"]);

export function codePoints(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

export function cutToCodePoints(text, length) {
  return Array.from(text).slice(0, length).join("");
}

export class AnswerState {
  constructor({ text = "", offset = 0, status = "PENDING", error = null } = {}) {
    this.text = text;
    this.offset = offset;
    this.status = status;
    this.error = error;
  }

  get final() {
    return FINAL.has(this.status);
  }

  // Applies a StreamEvent; returns whether anything visible changed. A final answer never changes again.
  apply(event) {
    if (this.final) return false;
    const error = event.error ?? null;
    let changed = event.delta !== "" || event.status !== this.status || error !== this.error;
    this.text += event.delta;
    // A stream whose process died after its driver saw unpersisted tokens ends shorter than what was shown:
    // its final event carries the final length, and the copy is cut to it.
    if (FINAL.has(event.status) && event.offset < this.offset + codePoints(event.delta)) {
      this.text = cutToCodePoints(this.text, event.offset);
      changed = true;
    }
    this.offset = event.offset;
    this.status = event.status;
    this.error = error;
    return changed;
  }
}
