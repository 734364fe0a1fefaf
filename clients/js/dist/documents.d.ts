export declare const BODY_FIELDS = "streamId text status error offset";
export declare const MESSAGE_FIELDS = "id threadId prompt createdAt responseStreamId response { streamId text status error offset }";
export declare const SEND_MESSAGE = "mutation SendMessage($prompt: String!, $threadId: ID) {\n  sendMessage(prompt: $prompt, threadId: $threadId) { id threadId prompt createdAt responseStreamId response { streamId text status error offset } }\n}";
export declare const CANCEL_STREAM = "mutation CancelStream($streamId: ID!) {\n  cancelStream(streamId: $streamId) { streamId text status error offset }\n}";
export declare const STREAM_BODY_QUERY = "query StreamBody($streamId: ID!, $shareToken: String) {\n  streamBody(streamId: $streamId, shareToken: $shareToken) { streamId text status error offset }\n}";
export declare const STREAM_CHAT = "subscription StreamChat($streamId: ID!) {\n  streamChat(streamId: $streamId) { delta offset status error }\n}";
export declare const STREAM_BODY = "subscription StreamBody($streamId: ID!, $fromOffset: Int!, $shareToken: String) {\n  streamBody(streamId: $streamId, fromOffset: $fromOffset, shareToken: $shareToken) { delta offset status error }\n}";
