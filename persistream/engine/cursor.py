"""The cursor: one opaque resume point in an answer, covering every part.

An answer is a log of parts that follow each other, and only the last part can grow, so a position in it is
(part index, code points into that part): everything in earlier parts, and that many code points of this one, were
delivered. Resuming from it sends the rest of that part, then every later part whole. The position depends on
neither chunk numbers nor compaction, so a cursor stays valid after a stream's chunks are folded into one row.

A cursor also carries the TEXT code points its reader had (version 2; version 1 cursors, without them, are still
read). A position alone cannot say where a reader stands when the log it names is longer than what is stored (a
driver that was shown text its dead process never stored): resuming there keeps the reader's TEXT `offset` instead
of taking it back to the stored length. And a reader placed by a TEXT offset it has not reached yet (`fromOffset`
past the stored text) has no position at all: its cursor is `UNPLACED` with that offset, and resumes by it.

Clients never compute cursors: they are encoded with a check over the stream id, so a cursor edited by hand, cut
short, or taken from another stream is refused as BAD_USER_INPUT instead of resuming at a wrong place.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from persistream.errors import BadInput

VERSION = "1"
VERSION_WITH_TEXT = "2"
# Longest accepted cursor: a version, three integers and a check fit in far less; anything longer is not ours.
MAX_CURSOR_CHARS = 96
INVALID = "fromCursor is not a cursor this server gave for this stream."


@dataclass(frozen=True, slots=True, order=True)
class Position:
    part: int = 0
    offset: int = 0


START = Position(0, 0)
# The place of a reader still waiting for the TEXT offset it asked for: it resumes by that offset, not a position.
UNPLACED = Position(-1, 0)


@dataclass(frozen=True, slots=True)
class Place:
    """What a cursor names: the reader's position in the log (`UNPLACED`: none yet), and the TEXT code points it
    had (None for a version 1 cursor, which did not say)."""

    position: Position
    text: int | None = None


def _check(stream_id: str, *fields: int) -> str:
    digest = hashlib.blake2s(":".join([stream_id, *map(str, fields)]).encode(), digest_size=6, person=b"pscursor")
    return digest.hexdigest()


def encode(stream_id: str, position: Position, text: int | None = None) -> str:
    """The cursor after `position`, with the TEXT code points the reader had (`text`) when known."""
    if text is None:
        fields = [position.part, position.offset]
        raw = ".".join([VERSION, *map(str, fields), _check(stream_id, *fields)])
    else:
        fields = [position.part, position.offset, text]
        raw = ".".join([VERSION_WITH_TEXT, *map(str, fields), _check(stream_id, *fields)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(stream_id: str, cursor: str) -> Place:
    """The place a cursor names, or BadInput when this server could not have made it for `stream_id`."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        raise BadInput(INVALID)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:
        raise BadInput(INVALID) from None
    version, *numbers, check = raw.split(".") if "." in raw else ("", "")
    count = {VERSION: 2, VERSION_WITH_TEXT: 3}.get(version)
    if count is None or len(numbers) != count or not all(_is_number(n) for n in numbers):
        raise BadInput(INVALID)
    fields = [int(n) for n in numbers]
    place = Place(Position(fields[0], fields[1]), fields[2] if count == 3 else None)
    if (
        check != _check(stream_id, *fields)
        or encode(stream_id, place.position, place.text) != cursor
        or (place.position.part < 0 and (place.position != UNPLACED or place.text is None))
    ):
        raise BadInput(INVALID)
    return place


def _is_number(text: str) -> bool:
    """A whole number as `str(int)` writes it: `UNPLACED`'s -1 for a part, else zero or more."""
    return text == "-1" or text.isdigit()
