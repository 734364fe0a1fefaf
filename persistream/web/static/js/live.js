// Following streams over one graphql-transport-ws socket (the official graphql-ws client).
//
// The client's own retry would re-send a subscription with its first variables after a reconnect: a driver would
// ask for streamChat again (which then replays from 0) and an observer for its old offset, repeating text. So the
// client never retries here (retryAttempts: 0, and every attempt is dropped when the socket closes); each follow
// resubscribes by itself with streamBody from the last offset it received, which the server accepts even when it
// is ahead of the persisted text.

import { createClient } from "../vendor/graphql-ws/client.js";
import { FINAL } from "./answer.js";
import { bearerToken } from "./api.js";

const STREAM_CHAT = `subscription StreamChat($id: ID!) {
  streamChat(streamId: $id) { delta offset status error }
}`;
const STREAM_BODY = `subscription StreamBody($id: ID!, $from: Int!) {
  streamBody(streamId: $id, fromOffset: $from) { delta offset status error }
}`;
const SHARED_STREAM_BODY = `subscription SharedStreamBody($id: ID!, $from: Int!, $share: String!) {
  streamBody(streamId: $id, fromOffset: $from, shareToken: $share) { delta offset status error }
}`;

const KEEP_ALIVE_MS = 10_000; // ping the server this often...
const PONG_TIMEOUT_MS = 5_000; // ...and call the socket dead when no pong comes back in time
const BACKOFF_MS = [200, 500, 1000, 2000, 4000];

function backoff(retries) {
  const base = BACKOFF_MS[Math.min(retries, BACKOFF_MS.length - 1)];
  return base + Math.floor(Math.random() * base * 0.3);
}

function graphqlErrorMessage(errors) {
  return errors.map((e) => e.message).join(" ") || "The server refused this stream.";
}

export class Live {
  // onState({ connected, following }) is called whenever either changes.
  constructor(url, onState = () => {}) {
    this.onState = onState;
    this.connected = false;
    this.attempts = new Set(); // subscriptions currently open on the socket, to drop when it closes
    this.follows = new Set();
    this.pongTimer = undefined;
    this.client = createClient({
      url,
      lazy: true,
      lazyCloseTimeout: 10_000, // keep the socket a little while between answers
      retryAttempts: 0,
      // jwt mode: the token goes in connection_init (a browser cannot set headers on the upgrade); the cookie
      // of anonymous mode rides on the upgrade by itself.
      connectionParams: () => {
        const token = bearerToken();
        return token ? { Authorization: `Bearer ${token}` } : {};
      },
      keepAlive: KEEP_ALIVE_MS,
      on: {
        connected: () => this.setConnected(true),
        closed: () => {
          clearTimeout(this.pongTimer);
          this.setConnected(false);
          for (const attempt of [...this.attempts]) attempt.drop();
        },
        ping: (received) => {
          if (!received) this.pongTimer = setTimeout(() => this.client.terminate(), PONG_TIMEOUT_MS);
        },
        pong: (received) => {
          if (received) clearTimeout(this.pongTimer);
        },
      },
    });
    // Coming back online or to the tab: retry waiting follows now rather than at the end of their backoff.
    const wake = () => {
      for (const follow of this.follows) follow.wake();
    };
    window.addEventListener("online", wake);
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && wake());
  }

  setConnected(connected) {
    if (this.connected === connected) return;
    this.connected = connected;
    this.report();
  }

  report() {
    this.onState({ connected: this.connected, following: this.follows.size });
  }

  // Follows one stream until its final status. With drive, the first subscription is streamChat (it claims a
  // PENDING stream); every later one is streamBody from the last offset received. Handlers:
  // onEvent(event), onFatal(message) for a refusal (NOT_FOUND...), onRetry() when the socket was lost.
  // With shareToken, the stream is observed through a share link (never driven). Returns { stop() }.
  follow(streamId, { drive = false, fromOffset = 0, shareToken = null }, handlers) {
    const live = this;
    let offset = fromOffset;
    let received = false;
    let stopped = false;
    let retries = 0;
    let timer;
    let current = null;

    const follow = {
      stop() {
        if (stopped) return;
        stopped = true;
        clearTimeout(timer);
        current?.drop(false);
        live.follows.delete(follow);
        live.report();
      },
      wake() {
        if (stopped || current || timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        subscribe();
      },
    };

    const retryLater = () => {
      if (stopped) return;
      handlers.onRetry?.();
      timer = setTimeout(() => {
        timer = undefined;
        subscribe();
      }, backoff(retries));
      retries += 1;
    };

    function subscribe() {
      if (stopped) return;
      // streamChat again while nothing arrived: the stream may still be PENDING, and on a claimed one
      // streamChat is streamBody from 0, which is exactly where this copy stands.
      let payload;
      if (shareToken) {
        payload = { query: SHARED_STREAM_BODY, variables: { id: streamId, from: offset, share: shareToken } };
      } else if (drive && !received) {
        payload = { query: STREAM_CHAT, variables: { id: streamId } };
      } else {
        payload = { query: STREAM_BODY, variables: { id: streamId, from: offset } };
      }
      let open = true;
      let dispose = () => {};
      const attempt = {
        // Ends this subscription; with retry, a new one starts after a backoff.
        drop(retry = true) {
          if (!open) return;
          open = false;
          current = null;
          live.attempts.delete(attempt);
          dispose();
          if (retry) retryLater();
        },
      };
      current = attempt;
      live.attempts.add(attempt);
      const fatal = (message) => {
        attempt.drop(false);
        follow.stop();
        handlers.onFatal?.(message);
      };
      dispose = live.client.subscribe(payload, {
        next(result) {
          if (!open) return;
          if (result.errors?.length) return fatal(graphqlErrorMessage(result.errors));
          const event = result.data?.streamChat ?? result.data?.streamBody;
          if (!event) return;
          received = true;
          retries = 0;
          offset = event.offset;
          handlers.onEvent(event);
          if (FINAL.has(event.status)) {
            attempt.drop(false);
            follow.stop();
          }
        },
        error(error) {
          if (!open) return;
          // An array is the server's refusal of the operation; anything else is the socket failing.
          if (Array.isArray(error)) return fatal(graphqlErrorMessage(error));
          attempt.drop();
        },
        complete() {
          // Completed before the final status (the server going away): resume like after a drop.
          if (open) attempt.drop();
        },
      });
    }

    this.follows.add(follow);
    this.report();
    subscribe();
    return follow;
  }
}

export function socketUrl(path = "/graphql") {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.toString();
}
