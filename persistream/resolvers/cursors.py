"""The `cursor` of a body or an event: where it leaves its reader in the answer, encoded for its stream.

It is made from the object alone (its stream id and end position, engine/cursor.py), so every subscriber of one
event gets the same cursor, and the event's rendering stays shared among them (resolvers/shared.py).
"""

from __future__ import annotations

from persistream.engine import cursor
from persistream.engine.events import StreamBody, StreamEvent


def after(item: StreamBody | StreamEvent) -> str:
    return cursor.encode(item.stream_id, item.end, item.offset)
