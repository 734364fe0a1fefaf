"""What every resolver gets from the web layer, in `info.context`:

- `chat`: the ChatService;
- `identity`: the caller's `Identity`, or None when the request carried no credential (share reads need none);
- `auth_error`: the `Unauthenticated` of a credential that was there but bad, or None;
- `auth_mode`: the server's PERSISTREAM_AUTH mode;
- `connection`: over a WebSocket, what its subscriptions follow (for a graceful shutdown), else absent.
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from persistream.chat.identity import Identity
from persistream.chat.service import ChatService
from persistream.errors import Unauthenticated


def chat_of(info: Info[Any, Any]) -> ChatService:
    service: ChatService = info.context["chat"]
    return service


def caller_of(info: Info[Any, Any]) -> Identity | None:
    """The caller; a bad credential fails every operation, share reads included."""
    error: Unauthenticated | None = info.context.get("auth_error")
    if error is not None:
        raise error
    identity: Identity | None = info.context.get("identity")
    return identity


def follow(info: Info[Any, Any], stream_id: str) -> None:
    """Note on the WebSocket that the calling subscription follows `stream_id`: a shutdown keeps the socket open
    until that stream has ended, if this process generates it (web/shutdown.py)."""
    connection = info.context.get("connection")
    if connection is not None:
        connection.follow(stream_id)


def auth_mode_of(info: Info[Any, Any]) -> str:
    mode: str = info.context.get("auth_mode", "none")
    return mode
