"""The GraphQL documents the chaos clients send: every event and body with its parts and cursor, and the branch
operations."""

from __future__ import annotations

PART_DELTAS = "parts { index kind delta toolName toolCallId isError }"
EVENT = f"streamId delta offset status error cursor {PART_DELTAS}"
BODY_FIELDS = "streamId text status error offset cursor parts { index kind text toolName toolCallId isError }"

STREAM_CHAT = f"subscription($id: ID!) {{ streamChat(streamId: $id) {{ {EVENT} }} }}"
STREAM_BODY = f"""subscription($id: ID!, $from: Int! = 0, $cursor: String = null) {{
  streamBody(streamId: $id, fromOffset: $from, fromCursor: $cursor) {{ {EVENT} }} }}"""
BODY = f"query($id: ID!) {{ streamBody(streamId: $id) {{ {BODY_FIELDS} }} }}"
CANCEL = f"mutation($id: ID!) {{ cancelStream(streamId: $id) {{ {BODY_FIELDS} }} }}"

MESSAGE = "id threadId prompt responseStreamId parentId siblingIds"
SEND = f"mutation($prompt: String!, $thread: ID) {{ sendMessage(prompt: $prompt, threadId: $thread) {{ {MESSAGE} }} }}"
REGENERATE = f"mutation($id: ID!) {{ regenerate(messageId: $id) {{ {MESSAGE} }} }}"
EDIT = f"mutation($id: ID!, $prompt: String!) {{ editMessage(messageId: $id, prompt: $prompt) {{ {MESSAGE} }} }}"
BRANCH = f"query($thread: ID!, $leaf: ID) {{ branch(threadId: $thread, leafId: $leaf) {{ {MESSAGE} }} }}"
