"""The stream engine: persistent streams of an answer, generated once and read by any number of observers.

It knows streams, never people: threads, identities and sharing are the chat layer's (`persistream.chat`).
"""

from persistream.engine.events import StreamBody, StreamEvent, StreamStatus
from persistream.engine.stream_engine import StreamEngine
from persistream.errors import BadInput, NotFound, PersistreamError

__all__ = ["BadInput", "NotFound", "PersistreamError", "StreamBody", "StreamEngine", "StreamEvent", "StreamStatus"]
