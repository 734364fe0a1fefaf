"""What every resolver gets from the web layer: the chat service, in `info.context`."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from persistream.core.chat import ChatService


def chat_of(info: Info[Any, Any]) -> ChatService:
    service: ChatService = info.context["chat"]
    return service
