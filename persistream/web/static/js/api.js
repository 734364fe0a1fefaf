// Queries and mutations over HTTP POST /graphql. Subscriptions go over the WebSocket (live.js).

const ENDPOINT = "/graphql";

export const THREADS = `query Threads { threads(last: 100) { id title createdAt } }`;

export const MESSAGES = `query Messages($thread: ID!, $last: Int! = 500) {
  messages(threadId: $thread, last: $last) {
    id threadId prompt createdAt responseStreamId
    response { text status error offset }
  }
}`;

export const SEND = `mutation Send($prompt: String!, $thread: ID) {
  sendMessage(prompt: $prompt, threadId: $thread) {
    id threadId prompt createdAt responseStreamId
    response { text status error offset }
  }
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

export async function request(query, variables = {}) {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
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
