// Keeps the conversation scrolled to the newest text while an answer grows, until the reader scrolls up; then it
// stays where they are and offers a "jump to latest" button. Only the reader lets go of the bottom: a scroll
// soon after their own input (wheel, touch, keys, pointer) moving up. Layout changes never do.

const USER_SCROLL_MS = 1000; // a scroll this soon after input is the reader's, not the layout's
const NEAR_BOTTOM_PX = 48;

export class AutoScroll {
  constructor(scroller, jumpButton) {
    this.scroller = scroller;
    this.jump = jumpButton;
    this.stick = true;
    this.lastTop = 0;
    this.lastUserInput = -Infinity;

    for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
      scroller.addEventListener(type, () => (this.lastUserInput = performance.now()), { passive: true });
    }
    // Letting go must win at once: a smooth scroll takes a few frames, and a render in between would pull the
    // reader back down.
    scroller.addEventListener("wheel", (event) => event.deltaY < 0 && this.release(), { passive: true });
    scroller.addEventListener("keydown", (event) => {
      if (["PageUp", "ArrowUp", "Home"].includes(event.key)) this.release();
    });
    scroller.addEventListener("scroll", () => this.onScroll(), { passive: true });
    jumpButton.addEventListener("click", () => this.toBottom());
  }

  // A new conversation on screen: start at the bottom, following.
  reset() {
    this.lastTop = 0;
    this.stick = true;
    this.jump.hidden = true;
  }

  // After the content changed.
  update() {
    if (this.stick) this.scrollDown();
    else this.jump.hidden = false;
  }

  toBottom() {
    this.stick = true;
    this.jump.hidden = true;
    this.scrollDown();
  }

  release() {
    if (this.scroller.scrollHeight <= this.scroller.clientHeight) return; // nothing to scroll yet
    this.stick = false;
    this.jump.hidden = false;
  }

  onScroll() {
    const top = this.scroller.scrollTop;
    const byReader = performance.now() - this.lastUserInput < USER_SCROLL_MS;
    if (byReader && top < this.lastTop - 2) this.stick = false;
    else if (this.nearBottom()) this.stick = true;
    this.lastTop = top;
    this.jump.hidden = this.stick;
  }

  nearBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  scrollDown() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.lastTop = this.scroller.scrollTop;
  }
}
