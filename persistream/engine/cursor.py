"""The cursor: one opaque resume point in an answer, covering every part.

An answer is a log of parts that follow each other, and only the last part can grow, so a position in it is
(part index, code points into that part): everything in earlier parts, and that many code points of this one, were
delivered. Resuming from it sends the rest of that part, then every later part whole. The position depends on
neither chunk numbers nor compaction, so a cursor stays valid after a stream's chunks are folded into one row.

Clients never compute cursors: they are encoded with a check over the stream id, so a cursor edited by hand, cut
short, or taken from another stream is refused as BAD_USER_INPUT instead of resuming at a wrong place.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from persistream.errors import BadInput

VERSION = "1"
# Longest accepted cursor: a version, two integers and a check fit in far less; anything longer is not ours.
MAX_CURSOR_CHARS = 64
INVALID = "fromCursor is not a cursor this server gave for this stream."


@dataclass(frozen=True, slots=True, order=True)
class Position:
    part: int = 0
    offset: int = 0


START = Position(0, 0)


def _check(stream_id: str, part: int, offset: int) -> str:
    digest = hashlib.blake2s(f"{stream_id}:{part}:{offset}".encode(), digest_size=6, person=b"pscursor")
    return digest.hexdigest()


def encode(stream_id: str, position: Position) -> str:
    raw = f"{VERSION}.{position.part}.{position.offset}.{_check(stream_id, position.part, position.offset)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(stream_id: str, cursor: str) -> Position:
    """The position a cursor names, or BadInput when this server could not have made it for `stream_id`."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        raise BadInput(INVALID)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except ValueError:
        raise BadInput(INVALID) from None
    fields = raw.split(".")
    if len(fields) != 4 or fields[0] != VERSION or not (fields[1].isdigit() and fields[2].isdigit()):
        raise BadInput(INVALID)
    part, offset = int(fields[1]), int(fields[2])
    if fields[3] != _check(stream_id, part, offset) or encode(stream_id, Position(part, offset)) != cursor:
        raise BadInput(INVALID)
    return Position(part, offset)
