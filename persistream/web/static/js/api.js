// Queries and mutations over HTTP POST /graphql. Subscriptions go over the WebSocket (live.js).

const ENDPOINT = "/graphql";

export const THREADS = `query Threads { threads(last: 100) { id title createdAt } }`;

const MESSAGE_FIELDS = `id threadId prompt createdAt responseStreamId response { text status error offset }`;

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

export const SEND = `mutation Send($prompt: String!, $thread: ID) {
  sendMessage(prompt: $prompt, threadId: $thread) { ${MESSAGE_FIELDS} }
}`;

export const CANCEL = `mutation Cancel($id: ID!) { cancelStream(streamId: $id) { text status error offset } }`;

// A refusal from the server, with its message (written for end users) and extensions.code.
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join(" "));
    this.name = "GraphQLError";
    this.code = errors[0]?.extensions?.code ?? null;
  }
}

// With PERSISTREAM_AUTH=jwt the page is for an app that brings its own login: that app, on the same origin, puts
// the bearer token in sessionStorage under this key (and replaces it before it expires). The page reads it on
// every request and every socket, so a renewed token is used at once.
const TOKEN_KEY = "persistream.token";

export function bearerToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null; // storage refused: no token, as in the modes that need none
  }
}

export async function request(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const token = bearerToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(ENDPOINT, {
    method: "POST",
    // The identity in anonymous mode is a cookie the server set: send it (same origin only, never elsewhere).
    credentials: "same-origin",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`The server answered with status ${response.status}.`);
  }
  if (body.errors?.length) throw new GraphQLError(body.errors);
  if (!response.ok || !body.data) throw new Error(`The server answered with status ${response.status}.`);
  return body.data;
}
