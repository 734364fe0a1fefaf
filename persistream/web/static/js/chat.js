// The chat page: threads, the open thread's turns, the composer, and which stream each answer follows.
//
// Who drives: the tab that sent a prompt subscribes with streamChat, which claims the PENDING stream and starts
// the model. Everyone else (other tabs, this tab after a reload) observes with streamBody from the offset its
// copy has. A tab that reloads before its stream was claimed drives it again (it remembers what it sent in
// sessionStorage), so a stream is never left waiting for a driver that is gone.
//
// Opened at /?share=TOKEN the page is a read-only view of someone else's thread: no list, no composer, no
// Stop, Share or Delete; its answers are observed with streamBody(shareToken:) and new prompts polled for.
//
// Branches: the page holds every message of the thread and shows one branch (branches.js). The branch chosen with
// a variant switcher is in the URL (`leaf`), so a reload shows it again; a message new to this tab (a prompt, a
// regenerate or an edit, from here or elsewhere) shows the newest message's branch, and a prompt sent while an
// older branch is shown continues that branch.

import { isFinal, PersistreamError } from "../vendor/persistream-client/index.js";
import {
  client,
  DELETE_THREAD,
  HOME,
  MESSAGES,
  request,
  SHARE_THREAD,
  SHARED_MESSAGES,
  SHARED_THREAD,
  THREADS,
  UNSHARE_THREAD,
} from "./api.js";
import { AutoScroll } from "./autoscroll.js";
import { branchIds, siblingsOf } from "./branches.js";
import { Turn } from "./turn.js";

const THREAD_POLL_MS = 2500; // how soon a prompt sent from another tab shows up in the open thread
const POLL_LAST = 10; // a poll asks for this many newest messages; a bigger gap triggers a full reload
const THREADS_POLL_MS = 10_000; // how soon a chat started in another tab shows up in the list
const BANNER_DELAY_MS = 700; // a socket that is only connecting is not worth a banner
const DRIVEN_KEY = "persistream.driving";

const $ = (id) => document.getElementById(id);

function threadFromUrl() {
  return new URLSearchParams(window.location.search).get("thread");
}

function leafFromUrl() {
  return new URLSearchParams(window.location.search).get("leaf");
}

function shareTokenFromUrl() {
  return new URLSearchParams(window.location.search).get("share");
}

// The server's answer for an id (or token) that is missing, revoked or not the caller's.
function isGone(error) {
  return error instanceof PersistreamError && ["NOT_FOUND", "BAD_USER_INPUT"].includes(error.code);
}

function threadUrl(threadId, leafId = null) {
  if (!threadId) return HOME;
  const leaf = leafId ? `&leaf=${encodeURIComponent(leafId)}` : "";
  return `${HOME}?thread=${encodeURIComponent(threadId)}${leaf}`;
}

class Chat {
  constructor() {
    this.input = $("composer-input");
    this.sendButton = $("send");
    this.notice = $("notice");
    this.list = $("messages");
    this.scroller = $("scroller");
    this.intro = $("intro");
    this.threadList = $("threads");
    this.threadsEmpty = $("threads-empty");
    this.title = $("thread-title");
    this.connection = $("connection");
    this.actions = $("thread-actions");
    this.deleteButton = $("delete");
    this.deleteConfirm = $("delete-confirm");
    this.shareButton = $("share");
    this.sharePanel = $("share-panel");
    this.shareStatus = $("share-status");
    this.shareLink = $("share-link");
    this.unshareButton = $("unshare");

    this.shareToken = shareTokenFromUrl();
    this.sharedTitle = null;

    this.threadId = null;
    this.threads = [];
    this.threadsKey = "";
    this.turns = new Map(); // message id -> Turn, for every message of the thread, shown or not
    this.messages = new Map(); // message id -> message, every branch, in the order they were stored
    this.leafId = null; // the variant chosen on screen; null: the newest message's branch
    this.view = 0; // bumped on every thread switch: answers for a thread no longer shown are dropped
    this.sending = false;
    this.sends = 0;
    this.scroll = new AutoScroll(this.scroller, $("jump"));
    this.bannerTimer = undefined;
    this.connections = new Map(); // stream followed -> its connection ("connecting", "open", "reconnecting")
  }

  start() {
    if (this.shareToken) {
      this.startShared();
      return;
    }
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.input.addEventListener("input", () => {
      this.autosize();
      if (this.notice.textContent) this.notify("");
    });
    $("new-chat").addEventListener("click", () => {
      this.closeSidebar();
      this.openThread(null);
      this.input.focus();
    });
    this.deleteButton.addEventListener("click", () => this.askDelete());
    $("delete-yes").addEventListener("click", () => this.deleteThread());
    $("delete-no").addEventListener("click", () => this.cancelDelete());
    this.deleteConfirm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.cancelDelete();
    });
    this.shareButton.addEventListener("click", () => this.share());
    this.unshareButton.addEventListener("click", () => this.unshare());
    $("share-close").addEventListener("click", () => this.closeSharePanel(true));
    this.sharePanel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closeSharePanel(true);
    });
    $("toggle-sidebar").addEventListener("click", () => this.toggleSidebar());
    $("scrim").addEventListener("click", () => this.closeSidebar());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) {
        this.closeSidebar();
        $("toggle-sidebar").focus();
      }
    });
    window.addEventListener("popstate", () => this.openThread(threadFromUrl(), { push: false, leaf: leafFromUrl() }));
    window.addEventListener("focus", () => this.loadThreads());
    setInterval(() => this.pollThread(), THREAD_POLL_MS);
    setInterval(() => this.loadThreads(), THREADS_POLL_MS);

    this.input.disabled = false;
    this.sendButton.disabled = false;
    document.body.dataset.ready = "true";
    this.openThread(threadFromUrl(), { push: false, leaf: leafFromUrl() });
    this.loadThreads();
    this.input.focus();
  }

  // --- threads -------------------------------------------------------------------------------------------

  async loadThreads() {
    let threads;
    try {
      ({ threads } = await request(THREADS));
    } catch {
      return; // the list stays as it was; the next poll tries again
    }
    const key = JSON.stringify(threads.map((t) => [t.id, t.title]));
    this.threads = threads;
    if (key !== this.threadsKey) {
      // Only redraw when something changed, so keyboard focus in the list survives the polling.
      this.threadsKey = key;
      this.renderThreads();
    }
    this.updateTitle();
  }

  renderThreads() {
    const items = this.threads.map((thread) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.className = "thread-link";
      link.href = threadUrl(thread.id);
      link.textContent = thread.title || "Untitled chat";
      link.title = thread.title;
      link.dataset.threadId = thread.id;
      link.addEventListener("click", (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        this.closeSidebar();
        if (thread.id !== this.threadId) this.openThread(thread.id);
        this.input.focus();
      });
      item.append(link);
      return item;
    });
    this.threadList.replaceChildren(...items);
    this.threadsEmpty.hidden = items.length > 0;
    this.markActiveThread();
  }

  markActiveThread() {
    for (const link of this.threadList.querySelectorAll("a.thread-link")) {
      if (link.dataset.threadId === this.threadId) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  updateTitle() {
    const thread = this.threads.find((t) => t.id === this.threadId);
    let title = this.threadId ? (thread?.title ?? "Chat") : "New chat";
    if (this.shareToken) title = this.sharedTitle ?? "Shared chat";
    this.title.textContent = title;
    document.title = `${title} · persistream`;
  }

  async openThread(threadId, { push = true, leaf = null } = {}) {
    const view = ++this.view;
    for (const turn of this.turns.values()) turn.dispose();
    this.turns.clear();
    this.messages.clear();
    this.leafId = leaf;
    this.list.replaceChildren();
    this.scroll.reset();
    this.threadId = threadId;
    if (push) window.history.pushState(null, "", threadUrl(threadId));
    this.intro.hidden = Boolean(threadId);
    this.actions.hidden = !threadId;
    this.deleteConfirm.hidden = true;
    this.closeSharePanel(false);
    this.markActiveThread();
    this.updateTitle();
    this.notify("");
    if (!threadId) return;
    try {
      const { messages } = await request(MESSAGES, { thread: threadId });
      if (view !== this.view) return;
      this.merge(messages);
      this.scroll.toBottom();
    } catch (error) {
      if (view !== this.view) return;
      const gone = isGone(error);
      if (gone) this.actions.hidden = true;
      this.notify(gone ? "This chat does not exist (any more)." : `Could not load this chat: ${error.message}`, true);
    }
  }

  // Prompts sent from other tabs appear here; their answers are observed live.
  async pollThread() {
    const { view, sends, threadId } = this;
    if (!threadId || this.sending) return;
    const [query, share] = this.shareToken ? [SHARED_MESSAGES, { share: this.shareToken }] : [MESSAGES, {}];
    let messages;
    try {
      ({ messages } = await request(query, { thread: threadId, last: POLL_LAST, ...share }));
      // More new messages than the window holds: fetch the whole thread so none is skipped.
      if (this.turns.size > 0 && messages.length === POLL_LAST && !messages.some((m) => this.turns.has(m.id))) {
        ({ messages } = await request(query, { thread: threadId, ...share }));
      }
    } catch (error) {
      // A share link revoked while it is open: say so rather than keep showing a thread that is gone.
      if (this.shareToken && view === this.view && isGone(error)) this.showLinkGone();
      return;
    }
    // A send that started meanwhile must add (and drive) its own message, not see it arrive as an observer.
    if (view !== this.view || sends !== this.sends || this.sending) return;
    // A message made elsewhere (a prompt, a regenerate, an edit): show its branch, as a new prompt always was.
    const known = this.turns.size;
    if (messages.some((m) => !this.turns.has(m.id)) && known > 0) this.chooseLeaf(null);
    this.merge(messages);
  }

  merge(messages) {
    const driven = this.shareToken ? new Set() : this.driven();
    for (const message of messages) {
      if (this.turns.has(message.id)) continue;
      const drive = message.response.status === "PENDING" && driven.has(message.responseStreamId);
      this.addTurn(message, { drive });
    }
    this.showBranch();
  }

  // --- branches ------------------------------------------------------------------------------------------

  // Puts the chosen branch's turns on screen, each with its "n / m" variants; the others stay followed, off it.
  showBranch() {
    const ids = branchIds(this.messages, this.leafId);
    const siblings = siblingsOf(this.messages);
    for (const id of ids) {
      const variants = siblings.get(id) ?? [id];
      this.turns.get(id).setVariants(variants.indexOf(id), variants.length);
    }
    const roots = ids.map((id) => this.turns.get(id).root);
    const shown = [...this.list.children];
    if (roots.length !== shown.length || roots.some((root, i) => root !== shown[i])) this.list.replaceChildren(...roots);
    this.scroll.update();
  }

  // The branch shown from now on (null: the newest message's), remembered in the URL for a reload.
  chooseLeaf(leafId) {
    this.leafId = leafId;
    if (!this.shareToken && this.threadId) window.history.replaceState(null, "", threadUrl(this.threadId, leafId));
  }

  shownIds() {
    return branchIds(this.messages, this.leafId);
  }

  switchVariant(turn, step) {
    const variants = siblingsOf(this.messages).get(turn.message.id) ?? [];
    const target = variants[variants.indexOf(turn.message.id) + step];
    if (!target) return;
    this.chooseLeaf(target);
    this.showBranch();
    // Keyboard focus stays on the switcher, now the one of the variant shown.
    const next = this.turns.get(target);
    const keep = step < 0 ? next.previousButton : next.nextButton;
    (keep.disabled ? (step < 0 ? next.nextButton : next.previousButton) : keep).focus();
  }

  regenerate(turn) {
    return this.makeVariant(() => client.regenerate(turn.message.id), "Not regenerated");
  }

  edit(turn, prompt) {
    return this.makeVariant(() => client.editMessage(turn.message.id, prompt), "Not sent");
  }

  // A regenerate or an edit: its new message is driven here and its branch shown. Resolves with whether it was made.
  async makeVariant(make, failure) {
    if (this.sending) return false;
    this.sending = true;
    this.sends += 1;
    this.notify("");
    const { view } = this;
    try {
      const message = await make();
      this.rememberDriven(message.responseStreamId);
      if (view !== this.view) {
        this.follow(message.responseStreamId, { drive: true });
        return true;
      }
      this.addTurn(message, { drive: true });
      this.chooseLeaf(null);
      this.showBranch();
      this.scroll.toBottom();
      this.turns.get(message.id).previousButton.focus();
      return true;
    } catch (error) {
      const reason = error instanceof PersistreamError && error.code ? error.message : "the server could not be reached.";
      this.notify(`${failure}: ${reason}`, true);
      return false;
    } finally {
      this.sending = false;
    }
  }

  // --- turns ---------------------------------------------------------------------------------------------

  addTurn(message, { drive }) {
    const turn = new Turn(message, {
      onStop: (t) => this.stop(t),
      onRendered: () => this.scroll.update(),
      onRegenerate: (t) => this.regenerate(t),
      onEdit: (t, prompt) => this.edit(t, prompt),
      onSwitch: (t, step) => this.switchVariant(t, step),
      readOnly: Boolean(this.shareToken),
    });
    this.turns.set(message.id, turn);
    this.messages.set(message.id, message);
    if (turn.live) {
      const onSnapshot = (snapshot) => {
        turn.apply(snapshot);
        if (isFinal(snapshot.status)) this.forgetDriven(turn.streamId);
      };
      const onError = (error) => turn.showProblem(`This answer can no longer be followed: ${error.message}`);
      turn.follow = this.follow(turn.streamId, { drive, initial: turn.answer }, onSnapshot, onError);
    }
    return turn;
  }

  // Follows one stream with the client (it resumes from its offset after any drop by itself); the banner
  // watches every followed stream's connection. Returns the stream.
  follow(streamId, options, onSnapshot = () => {}, onError = () => {}) {
    const stream = client.stream(streamId, { ...options, shareToken: this.shareToken });
    const forget = () => {
      this.connections.delete(stream);
      this.showConnection();
    };
    stream.done.then(forget, forget);
    stream.subscribe((snapshot) => {
      onSnapshot(snapshot);
      if (this.connections.get(stream) !== snapshot.connection) {
        this.connections.set(stream, snapshot.connection);
        this.showConnection();
      }
    }, onError);
    return stream;
  }

  async stop(turn) {
    try {
      const body = await client.cancel(turn.streamId);
      // The subscription brings the final status; only when nothing follows the stream is the answer drawn
      // from the mutation's reply.
      if (!turn.follow && turn.live) turn.replace(body);
    } catch (error) {
      turn.stopButtonFailed();
      this.notify(`Could not stop the answer: ${error.message}`, true);
    }
  }

  // --- deleting and sharing the open thread -------------------------------------------------------------

  askDelete() {
    this.closeSharePanel(false);
    this.deleteConfirm.hidden = false;
    $("delete-yes").focus();
  }

  cancelDelete() {
    this.deleteConfirm.hidden = true;
    this.deleteButton.focus();
  }

  async deleteThread() {
    const { threadId } = this;
    if (!threadId) return;
    const yes = $("delete-yes");
    yes.disabled = true;
    try {
      await request(DELETE_THREAD, { thread: threadId });
    } catch (error) {
      // Gone already (deleted in another tab): the result the reader wanted.
      if (!isGone(error)) {
        this.notify(`Could not delete this chat: ${error.message}`, true);
        return;
      }
    } finally {
      yes.disabled = false;
    }
    this.threads = this.threads.filter((t) => t.id !== threadId);
    this.threadsKey = JSON.stringify(this.threads.map((t) => [t.id, t.title]));
    this.renderThreads();
    if (this.threadId === threadId) {
      await this.openThread(null);
      this.notify("Chat deleted.");
      this.input.focus();
    }
    this.loadThreads();
  }

  async share() {
    const { threadId } = this;
    if (!threadId) return;
    this.deleteConfirm.hidden = true;
    this.sharePanel.hidden = false;
    this.shareButton.setAttribute("aria-expanded", "true");
    this.shareStatus.textContent = "Making a link…";
    this.shareLink.hidden = true;
    this.unshareButton.hidden = true;
    let url;
    try {
      ({
        shareThread: { url },
      } = await request(SHARE_THREAD, { thread: threadId }));
    } catch (error) {
      if (threadId === this.threadId) this.shareStatus.textContent = `Could not share this chat: ${error.message}`;
      return;
    }
    if (threadId !== this.threadId) return;
    const link = new URL(url, window.location.origin).toString();
    this.shareLink.value = link;
    this.shareLink.hidden = false;
    this.unshareButton.hidden = false;
    try {
      await navigator.clipboard.writeText(link);
      this.shareStatus.textContent = "Link copied. Anyone with it can read this chat and watch its answers live:";
      this.sharePanel.dataset.copied = "true";
    } catch {
      // Clipboard refused (no permission, not a secure context): the link is there to copy by hand.
      this.shareStatus.textContent = "Copy this link. Anyone with it can read this chat and watch its answers live:";
      this.sharePanel.dataset.copied = "false";
      this.shareLink.focus();
      this.shareLink.select();
    }
  }

  async unshare() {
    const { threadId } = this;
    if (!threadId) return;
    this.unshareButton.disabled = true;
    try {
      await request(UNSHARE_THREAD, { thread: threadId });
    } catch (error) {
      if (threadId === this.threadId) this.shareStatus.textContent = `Could not stop sharing: ${error.message}`;
      return;
    } finally {
      this.unshareButton.disabled = false;
    }
    if (threadId !== this.threadId) return;
    this.shareStatus.textContent = "Sharing stopped: the link no longer works.";
    this.shareLink.hidden = true;
    this.shareLink.value = "";
    this.unshareButton.hidden = true;
    delete this.sharePanel.dataset.copied;
  }

  closeSharePanel(refocus) {
    const wasOpen = !this.sharePanel.hidden;
    this.sharePanel.hidden = true;
    this.shareButton.setAttribute("aria-expanded", "false");
    if (wasOpen && refocus) this.shareButton.focus();
  }

  // --- a thread shared with this reader (/?share=TOKEN) --------------------------------------------------

  async startShared() {
    document.body.classList.add("shared");
    $("shared-badge").hidden = false;
    $("own-chats").hidden = false;
    this.input.disabled = true;
    this.sendButton.disabled = true;
    this.intro.hidden = true;
    this.updateTitle();
    setInterval(() => this.pollThread(), THREAD_POLL_MS);
    const view = ++this.view;
    try {
      const { sharedThread: thread } = await request(SHARED_THREAD, { token: this.shareToken });
      if (view !== this.view) return;
      this.threadId = thread.id;
      this.sharedTitle = thread.title || "Untitled chat";
      this.updateTitle();
      this.merge(thread.messages);
      this.scroll.toBottom();
    } catch (error) {
      if (isGone(error)) this.showLinkGone();
      else this.showSharedProblem(`Could not load this shared chat: ${error.message}`);
    }
    document.body.dataset.ready = "true";
  }

  showLinkGone() {
    this.showSharedProblem(
      "This link no longer works. The chat may have been deleted, or its owner stopped sharing it.",
    );
  }

  showSharedProblem(text) {
    ++this.view;
    this.threadId = null;
    for (const turn of this.turns.values()) turn.dispose();
    this.turns.clear();
    this.messages.clear();
    this.list.replaceChildren();
    const heading = document.createElement("h2");
    heading.textContent = text;
    const back = document.createElement("a");
    back.href = HOME;
    back.textContent = "Go to your own chats";
    const para = document.createElement("p");
    para.append(back);
    this.intro.replaceChildren(heading, para);
    this.intro.dataset.problem = "true";
    this.intro.hidden = false;
    this.sharedTitle = "Shared chat";
    this.updateTitle();
  }

  // --- sending -------------------------------------------------------------------------------------------

  async send() {
    if (this.sending) return;
    const prompt = this.input.value;
    if (!prompt.trim()) {
      this.notify("Please write a message first.", true);
      this.input.focus();
      return;
    }
    this.sending = true;
    this.sends += 1;
    this.sendButton.disabled = true;
    this.notify("");
    const { view, threadId } = this;
    // On a branch the reader chose, the prompt continues it; otherwise the thread's newest message, as always.
    const parentId = threadId && this.leafId ? (this.shownIds().at(-1) ?? null) : null;
    try {
      const message = await client.sendMessage(prompt, { threadId, parentId });
      this.rememberDriven(message.responseStreamId);
      if (this.input.value === prompt) {
        this.input.value = "";
        this.autosize();
      }
      if (view !== this.view) {
        // The reader switched chats while this was sent: drive it anyway, or it would wait for a driver.
        this.follow(message.responseStreamId, { drive: true });
        return;
      }
      if (!threadId) {
        this.threadId = message.threadId;
        window.history.pushState(null, "", threadUrl(message.threadId));
        this.intro.hidden = true;
        this.actions.hidden = false;
        this.loadThreads();
      }
      this.addTurn(message, { drive: true });
      this.chooseLeaf(null);
      this.showBranch();
      this.scroll.toBottom();
    } catch (error) {
      const reason = error instanceof PersistreamError && error.code ? error.message : "the server could not be reached.";
      this.notify(`Not sent: ${reason}`, true);
    } finally {
      this.sending = false;
      this.sendButton.disabled = false;
      this.input.focus();
    }
  }

  driven() {
    try {
      return new Set(JSON.parse(sessionStorage.getItem(DRIVEN_KEY) ?? "[]"));
    } catch {
      return new Set();
    }
  }

  rememberDriven(streamId) {
    this.storeDriven([...this.driven(), streamId].slice(-50));
  }

  forgetDriven(streamId) {
    const ids = this.driven();
    if (ids.delete(streamId)) this.storeDriven([...ids]);
  }

  storeDriven(ids) {
    try {
      sessionStorage.setItem(DRIVEN_KEY, JSON.stringify(ids));
    } catch {
      // Storage refused (private mode, quota): only the re-drive after a reload is lost.
    }
  }

  // --- screen --------------------------------------------------------------------------------------------

  notify(text, isError = false) {
    this.notice.textContent = text;
    this.notice.classList.toggle("error", Boolean(text) && isError);
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  showConnection() {
    clearTimeout(this.bannerTimer);
    const lost = [...this.connections.values()].some((connection) => connection !== "open");
    if (!lost) {
      this.connection.hidden = true;
      return;
    }
    this.bannerTimer = setTimeout(() => {
      this.connection.textContent = "Connection lost, reconnecting…";
      this.connection.hidden = false;
    }, BANNER_DELAY_MS);
  }

  toggleSidebar() {
    const open = !document.body.classList.contains("sidebar-open");
    document.body.classList.toggle("sidebar-open", open);
    $("toggle-sidebar").setAttribute("aria-expanded", String(open));
    $("scrim").hidden = !open;
    if (open) (this.threadList.querySelector("a") ?? $("new-chat")).focus();
  }

  closeSidebar() {
    document.body.classList.remove("sidebar-open");
    $("toggle-sidebar").setAttribute("aria-expanded", "false");
    $("scrim").hidden = true;
  }
}

export function start() {
  const chat = new Chat();
  chat.start();
  return chat;
}
