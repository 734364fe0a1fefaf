"""The Python client's threads: list the caller's own (`threads`, newest first, paging back with `before`), read one
thread's messages (`messages`, every branch, oldest first), delete a thread, share it read-only and revoke the share,
read a shared thread with its token (`shared_thread`), and ask who the server takes the caller to be (`viewer`).
`persistream.client` re-exports these types, and its `PersistreamClient` has these operations; use them from there.

Invariants: another identity's thread, a deleted one and one that never existed are all `NOT_FOUND` (the server
says nothing more); a share token reads, nothing else. Like the client, this module imports nothing of the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from persistream.client_branches import MESSAGE_FIELDS, Message, message_from

_THREAD_FIELDS = "id title createdAt"
_THREADS = f"query($last: Int!, $before: ID) {{ threads(last: $last, before: $before) {{ {_THREAD_FIELDS} }} }}"
_MESSAGES = f"""query($thread: ID!, $last: Int!, $before: ID, $share: String) {{
  messages(threadId: $thread, last: $last, before: $before, shareToken: $share) {{ {MESSAGE_FIELDS} }} }}"""
_SHARED_THREAD = f"""query($token: String!, $last: Int!) {{
  sharedThread(token: $token) {{ {_THREAD_FIELDS} messages(last: $last) {{ {MESSAGE_FIELDS} }} }} }}"""
_DELETE = "mutation($thread: ID!) { deleteThread(threadId: $thread) }"
_SHARE = "mutation($thread: ID!) { shareThread(threadId: $thread) { threadId token url } }"
_UNSHARE = "mutation($thread: ID!) { unshareThread(threadId: $thread) }"
_VIEWER = "query { viewer { id authMode } }"


@dataclass(frozen=True)
class Thread:
    """A thread: `title` is its first prompt, shortened; `created_at` the server's ISO 8601 time. `messages` is
    filled by `shared_thread` (every message, oldest first), empty from `threads`."""

    id: str
    title: str
    created_at: str
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True)
class Share:
    """A thread's read-only key: whoever holds `token` may read the thread and follow its answers; `url` is the chat
    page showing it, as a path on the server (`/?share=TOKEN`)."""

    thread_id: str
    token: str
    url: str


@dataclass(frozen=True)
class Viewer:
    """Who the server takes the caller to be: `id` (stable for one identity) and the server's `auth_mode`."""

    id: str
    auth_mode: str


def _thread_from(data: Mapping[str, Any]) -> Thread:
    messages = tuple(message_from(m) for m in data.get("messages") or ())
    return Thread(data["id"], data["title"], data["createdAt"], messages)


class ThreadOperations:
    """The thread operations of PersistreamClient, over its `execute`."""

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def threads(self, *, last: int = 50, before: str | None = None) -> list[Thread]:
        """The caller's own threads, newest first: the `last` newest, or those older than the thread `before`."""
        data = await self.execute(_THREADS, {"last": last, "before": before})
        return [_thread_from(t) for t in data["threads"]]

    async def messages(
        self, thread_id: str, *, last: int = 50, before: str | None = None, share_token: str | None = None
    ) -> list[Message]:
        """The thread's messages, every branch, oldest first: the `last` newest, or those older than the message
        `before`. `share_token` reads a thread shared with it."""
        variables = {"thread": thread_id, "last": last, "before": before, "share": share_token}
        return [message_from(m) for m in (await self.execute(_MESSAGES, variables))["messages"]]

    async def shared_thread(self, token: str, *, last: int = 1000) -> Thread:
        """The thread shared with `token`, with its `last` newest messages; anyone holding it may read it."""
        return _thread_from((await self.execute(_SHARED_THREAD, {"token": token, "last": last}))["sharedThread"])

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete the thread, its messages and answers (a live answer is cancelled first)."""
        return bool((await self.execute(_DELETE, {"thread": thread_id}))["deleteThread"])

    async def share_thread(self, thread_id: str) -> Share:
        """The thread's read-only share (the same token on every call until `unshare_thread`)."""
        data = (await self.execute(_SHARE, {"thread": thread_id}))["shareThread"]
        return Share(data["threadId"], data["token"], data["url"])

    async def unshare_thread(self, thread_id: str) -> bool:
        """Revoke the thread's share token; True if there was one. The old token then finds nothing."""
        return bool((await self.execute(_UNSHARE, {"thread": thread_id}))["unshareThread"])

    async def viewer(self) -> Viewer:
        data = (await self.execute(_VIEWER))["viewer"]
        return Viewer(data["id"], data["authMode"])
