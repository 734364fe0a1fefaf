"""The engine's public names, kept importable whatever the package's inside looks like: the engine is
`persistream.engine`, the chat layer `persistream.chat`; a generator's names are in `persistream.generator`
(`ModelError` is here too, beside the engine that reports it). Nothing inside the package imports this module."""

from persistream.chat import ChatService, MessageView, ThreadView
from persistream.engine import StreamBody, StreamEngine, StreamEvent, StreamStatus
from persistream.errors import BadInput, NotFound, PersistreamError
from persistream.llm.base import ModelError

__all__ = [
    "BadInput",
    "ChatService",
    "MessageView",
    "ModelError",
    "NotFound",
    "PersistreamError",
    "StreamBody",
    "StreamEngine",
    "StreamEvent",
    "StreamStatus",
    "ThreadView",
]
