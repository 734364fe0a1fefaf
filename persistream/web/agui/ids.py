"""The names AG-UI uses, as persistream's ids.

A `threadId` is any string. One that is a UUID is the persistream thread id itself (so a client can use the
thread ids it gets from GraphQL, and the other way round); any other string names the thread whose id is the
name-based UUID (version 5) of that string, which no server-made id (version 4) can ever equal.

The SSE `id` of an event is where it stands in the answer: persistream's cursor for its place in the log (the
same cursor `streamBody(fromCursor:)` takes), then `.` and its number among the events at that place. A rejoin
from it sends exactly the events after it.
"""

from __future__ import annotations

import uuid

from persistream.engine import cursor
from persistream.errors import BadInput
from persistream.web.agui.mapping import Key

# Fixed forever: changing it would give every named thread another id.
THREAD_NAMESPACE = uuid.UUID("6f1d7c52-5a0e-4f7a-9d43-2b8e0c6a91f4")
MAX_THREAD_ID_CHARS = 200
# More events than this at one place cannot happen (RUN_FINISHED after a part's end and the next's start is 5).
MAX_STEP = 16
BAD_CURSOR = "cursor is not an event id this server sent for this run."


def thread_key(thread_id: str) -> str:
    """The persistream thread id a `threadId` names."""
    if not thread_id or len(thread_id) > MAX_THREAD_ID_CHARS:
        raise BadInput(f"threadId must be 1 to {MAX_THREAD_ID_CHARS} characters.")
    try:
        parsed = uuid.UUID(thread_id)
    except ValueError:
        return str(uuid.uuid5(THREAD_NAMESPACE, thread_id))
    return str(parsed) if str(parsed) == thread_id.lower() else str(uuid.uuid5(THREAD_NAMESPACE, thread_id))


def event_id(run_id: str, key: Key) -> str:
    return f"{cursor.encode(run_id, key.position)}.{key.step}"


def parse_event_id(run_id: str, value: str) -> Key:
    """The key an SSE id names; BadInput when this server could not have sent it for `run_id`."""
    place, _, step = value.rpartition(".")
    if not (step.isascii() and step.isdigit()) or step != str(int(step)) or int(step) > MAX_STEP:
        raise BadInput(BAD_CURSOR)
    try:
        position = cursor.decode(run_id, place).position
    except BadInput:
        raise BadInput(BAD_CURSOR) from None
    return Key(position, int(step))
