"""What every resolver gets from the web layer, as `info.context`: a `Context`.

The view makes one per HTTP request, and one per WebSocket at the upgrade, which every operation on that socket
then shares (`connection_init` may set its caller again). Resolvers read it through `Info[Context, None]` and know
nothing else of the transport: the web layer's own fields (the request, the connection parameters) live on its
subclass of `Context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from strawberry.dataloader import DataLoader

from persistream.chat.identity import Identity
from persistream.chat.service import ChatService
from persistream.chat.views import MessageView
from persistream.db.branches import SiblingKey
from persistream.errors import Unauthenticated


class Follower(Protocol):
    """A WebSocket's record of the streams its subscriptions follow (web/shutdown.py's `Connection`)."""

    def follow(self, stream_id: str) -> None: ...


@dataclass(kw_only=True)
class Context:
    chat: ChatService
    # The server's PERSISTREAM_AUTH mode.
    auth_mode: str = "none"
    # The caller, or None when the request carried no credential (share reads need none).
    identity: Identity | None = None
    # The `Unauthenticated` of a credential that was there but bad: every operation fails with it.
    auth_error: Unauthenticated | None = None
    # The path this app is served under ("" at the root, "/chat" mounted there), for the links it gives out.
    base_path: str = ""
    # Over a WebSocket, what its subscriptions follow (for a graceful shutdown); None over HTTP.
    connection: Follower | None = None
    # `Thread.messages`, batched: made by the first thread that asks, then shared by the rest of the context.
    thread_messages: DataLoader[str, list[MessageView]] | None = None
    # `Message.siblingIds`, batched by (thread, parent) in the same way (never cached: see queries.sibling_ids).
    siblings: DataLoader[SiblingKey, list[str]] | None = None

    def caller(self) -> Identity | None:
        """The caller; a bad credential fails every operation, share reads included."""
        if self.auth_error is not None:
            raise self.auth_error
        return self.identity

    def follow(self, stream_id: str) -> None:
        """Note on the WebSocket that the calling subscription follows `stream_id`: a shutdown keeps the socket open
        until that stream has ended, if this process generates it (web/shutdown.py)."""
        if self.connection is not None:
            self.connection.follow(stream_id)
