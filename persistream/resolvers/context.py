"""What every resolver gets from the web layer, in `info.context`:

- `chat`: the ChatService;
- `identity`: the caller's `Identity`, or None when the request carried no credential (share reads need none);
- `auth_error`: the `Unauthenticated` of a credential that was there but bad, or None;
- `auth_mode`: the server's PERSISTREAM_AUTH mode.
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from persistream.core.chat import ChatService
from persistream.core.errors import Unauthenticated
from persistream.core.identity import Identity


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


def auth_mode_of(info: Info[Any, Any]) -> str:
    mode: str = info.context.get("auth_mode", "none")
    return mode
