// The page's one persistream client (the project's JavaScript client, vendored from clients/js): queries and
// mutations over HTTP POST /graphql, every answer followed over one WebSocket. The documents the page sends
// besides the client's own are here.

import { createClient } from "../vendor/persistream-client/index.js";

// Where the page is served: this file is at <home>static/js/api.js, whether the server runs at the root, under a
// path of another app (/chat/) or behind a proxy that adds a prefix, so its own URL says where /graphql is.
export const HOME = new URL("../../", import.meta.url).pathname;

export const THREADS = `query Threads { threads(last: 100) { id title createdAt } }`;

// An answer's parts and cursor come with it, so history shows every part and following a live answer resumes
// after everything already on screen.
const MESSAGE_FIELDS = `id threadId parentId siblingIds prompt createdAt responseStreamId response {
  text status error offset cursor
  parts { index kind text toolName toolCallId isError }
  usage { inputTokens outputTokens reasoningTokens }
}`;

export const MESSAGES = `query Messages($thread: ID!, $last: Int! = 500) {
  messages(threadId: $thread, last: $last) { ${MESSAGE_FIELDS} }
}`;

// The same, read through a share link (anyone holding it, with any identity or none).
export const SHARED_MESSAGES = `query SharedMessages($thread: ID!, $last: Int! = 500, $share: String!) {
  messages(threadId: $thread, last: $last, shareToken: $share) { ${MESSAGE_FIELDS} }
}`;

export const SHARED_THREAD = `query SharedThread($token: String!) {
  sharedThread(token: $token) { id title createdAt messages(last: 500) { ${MESSAGE_FIELDS} } }
}`;

export const DELETE_THREAD = `mutation DeleteThread($thread: ID!) { deleteThread(threadId: $thread) }`;

export const SHARE_THREAD = `mutation ShareThread($thread: ID!) { shareThread(threadId: $thread) { token url } }`;

export const UNSHARE_THREAD = `mutation UnshareThread($thread: ID!) { unshareThread(threadId: $thread) }`;

// With PERSISTREAM_AUTH=jwt the page is for an app that brings its own login: that app, on the same origin, puts
// the bearer token in sessionStorage under this key (and replaces it before it expires). The page reads it on
// every request and every socket, so a renewed token is used at once.
const TOKEN_KEY = "persistream.token";

function bearerToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null; // storage refused: no token, as in the modes that need none
  }
}

function authorization() {
  const token = bearerToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The identity of anonymous mode is a cookie the server set: fetch sends it (same origin only, never elsewhere)
// and the WebSocket upgrade carries it by itself. In jwt mode the token goes as a header on HTTP and in
// connection_init on the socket (a browser cannot set headers on the upgrade).
export const client = createClient({
  url: `${HOME}graphql`,
  headers: authorization,
  connectionParams: authorization,
  credentials: "same-origin",
});

// A query or mutation: its data, or a PersistreamError (with the contract's `code` when the server refused it,
// null when it could not be reached).
export function request(query, variables = {}) {
  return client.request(query, variables);
}
