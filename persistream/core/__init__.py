"""The public names of earlier versions, kept importable: the engine is `persistream.engine`, the chat layer
`persistream.chat`. Nothing inside the package imports this module."""

from persistream.chat import ChatService, MessageView, ThreadView
from persistream.engine import StreamBody, StreamEngine, StreamEvent, StreamStatus
from persistream.errors import BadInput, NotFound, PersistreamError

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
