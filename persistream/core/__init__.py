"""The streaming engine, usable without GraphQL."""

from persistream.core.chat import ChatService, MessageView, ThreadView
from persistream.core.engine import StreamEngine
from persistream.core.errors import BadInput, NotFound, PersistreamError
from persistream.core.events import StreamBody, StreamEvent, StreamStatus

__all__ = [
    "BadInput",
    "ChatService",
    "MessageView",
    "NotFound",
    "PersistreamError",
    "StreamBody",
    "StreamEngine",
    "StreamEvent",
    "StreamStatus",
    "ThreadView",
]
