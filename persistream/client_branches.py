"""The Python client's messages and the operations on a thread's tree: send (continuing the newest message's branch,
or `parent_id`'s), regenerate, edit, and read one branch. `persistream.client` re-exports `Message`, and its
`PersistreamClient` has these operations; use them from there.

Invariants: a thread is a tree; `parent_id` is the message a message follows (None for a thread's first) and
`sibling_ids` every message with the same parent, this one included, oldest first, so a program can say "2 / 3".
Regenerating or editing never changes what is stored: it returns a new sibling whose answer is PENDING until
driven, like a sent message's. Like the client, this module imports nothing of the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MESSAGE_FIELDS = "id threadId parentId siblingIds prompt responseStreamId response { text status }"
_SEND = f"""mutation($prompt: String!, $thread: ID, $parent: ID) {{
  sendMessage(prompt: $prompt, threadId: $thread, parentId: $parent) {{ {MESSAGE_FIELDS} }} }}"""
_REGENERATE = f"mutation($id: ID!) {{ regenerate(messageId: $id) {{ {MESSAGE_FIELDS} }} }}"
_EDIT = f"""mutation($id: ID!, $prompt: String!) {{
  editMessage(messageId: $id, prompt: $prompt) {{ {MESSAGE_FIELDS} }} }}"""
_BRANCH = f"""query($thread: ID!, $leaf: ID, $last: Int!, $share: String) {{
  branch(threadId: $thread, leafId: $leaf, last: $last, shareToken: $share) {{ {MESSAGE_FIELDS} }} }}"""


@dataclass(frozen=True)
class Message:
    """A prompt and its answer's stream (`stream_id`), where it sits in the thread's tree, and its answer's text and
    status as they were when the message was read."""

    id: str
    thread_id: str
    stream_id: str
    parent_id: str | None = None
    sibling_ids: tuple[str, ...] = ()
    prompt: str = ""
    text: str = ""
    status: str = "PENDING"


def message_from(data: Mapping[str, Any]) -> Message:
    response = data.get("response") or {}
    return Message(
        id=data["id"],
        thread_id=data["threadId"],
        stream_id=data["responseStreamId"],
        parent_id=data.get("parentId"),
        sibling_ids=tuple(data.get("siblingIds") or ()),
        prompt=data.get("prompt", ""),
        text=response.get("text", ""),
        status=response.get("status", "PENDING"),
    )


class BranchOperations:
    """The thread operations of PersistreamClient, over its `execute`."""

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def send_message(self, prompt: str, thread_id: str | None = None, parent_id: str | None = None) -> Message:
        """Store the prompt (in a new thread, or continuing `thread_id`: the branch of its newest message, or the one
        ending at `parent_id`); its answer is PENDING until driven."""
        variables = {"prompt": prompt, "thread": thread_id, "parent": parent_id}
        return message_from((await self.execute(_SEND, variables))["sendMessage"])

    async def regenerate(self, message_id: str) -> Message:
        """A sibling of the message with the same prompt and a new PENDING answer."""
        return message_from((await self.execute(_REGENERATE, {"id": message_id}))["regenerate"])

    async def edit_message(self, message_id: str, prompt: str) -> Message:
        """A sibling of the message with the new prompt and a new PENDING answer."""
        return message_from((await self.execute(_EDIT, {"id": message_id, "prompt": prompt}))["editMessage"])

    async def branch(
        self, thread_id: str, leaf_id: str | None = None, *, last: int = 50, share_token: str | None = None
    ) -> list[Message]:
        """One branch, oldest first, ending at `leaf_id` (by default at the thread's newest message); `last` keeps
        only its newest messages."""
        variables = {"thread": thread_id, "leaf": leaf_id, "last": last, "share": share_token}
        return [message_from(m) for m in (await self.execute(_BRANCH, variables))["branch"]]
