// The GraphQL documents this client sends: the fewest fields each job needs.

const USAGE_FIELDS = "usage { inputTokens outputTokens reasoningTokens }";
export const BODY_FIELDS = `streamId text status error offset
  parts { index kind text toolName toolCallId isError } cursor ${USAGE_FIELDS}`;
export const MESSAGE_FIELDS = `id threadId parentId siblingIds prompt createdAt responseStreamId response { ${BODY_FIELDS} }`;
const EVENT_FIELDS = `delta offset status error
  parts { index kind delta toolName toolCallId isError } cursor ${USAGE_FIELDS}`;

export const SEND_MESSAGE = `mutation SendMessage($prompt: String!, $threadId: ID, $parentId: ID) {
  sendMessage(prompt: $prompt, threadId: $threadId, parentId: $parentId) { ${MESSAGE_FIELDS} }
}`;

export const REGENERATE = `mutation Regenerate($messageId: ID!) {
  regenerate(messageId: $messageId) { ${MESSAGE_FIELDS} }
}`;

export const EDIT_MESSAGE = `mutation EditMessage($messageId: ID!, $prompt: String!) {
  editMessage(messageId: $messageId, prompt: $prompt) { ${MESSAGE_FIELDS} }
}`;

export const BRANCH = `query Branch($threadId: ID!, $leafId: ID, $last: Int!, $shareToken: String) {
  branch(threadId: $threadId, leafId: $leafId, last: $last, shareToken: $shareToken) { ${MESSAGE_FIELDS} }
}`;

export const CANCEL_STREAM = `mutation CancelStream($streamId: ID!) {
  cancelStream(streamId: $streamId) { ${BODY_FIELDS} }
}`;

export const STREAM_BODY_QUERY = `query StreamBody($streamId: ID!, $shareToken: String) {
  streamBody(streamId: $streamId, shareToken: $shareToken) { ${BODY_FIELDS} }
}`;

export const STREAM_CHAT = `subscription StreamChat($streamId: ID!) {
  streamChat(streamId: $streamId) { ${EVENT_FIELDS} }
}`;

// With a cursor the server resumes every part from it and ignores fromOffset; without one, the TEXT offset.
export const STREAM_BODY = `subscription StreamBody($streamId: ID!, $fromOffset: Int!, $shareToken: String, $fromCursor: String) {
  streamBody(streamId: $streamId, fromOffset: $fromOffset, shareToken: $shareToken, fromCursor: $fromCursor) {
    ${EVENT_FIELDS}
  }
}`;
