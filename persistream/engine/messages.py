"""The messages processes send each other through the hub: one frozen type per kind, `encode()` and `decode()`.

The wire is a small JSON object, `{"k": kind, "s": stream id, ...}`, its keys in a fixed order and without spaces.
It is shared by every process on the same broadcast backend, whatever its version (a rolling deploy), so it never
changes: a field added later must be one an older `decode` can ignore. `decode` returns None for anything it
cannot read (the caller says so and drops it); a kind it does not know, naming a stream, becomes `Unknown`, whose
observers read the database: a newer process's news is confirmed where the truth is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from persistream.db.streams import PartPlace, StoredChunk
from persistream.engine.events import StreamStatus


class Kind(StrEnum):
    CHUNK = "c"
    # A chunk of any part but TEXT part 0. Its own kind, so that a process of a version before parts reads it as a
    # kind it does not know (its observers go to the database) instead of taking reasoning for text.
    PART_CHUNK = "P"
    STATUS = "s"
    FINAL = "f"
    CANCEL = "x"
    PING = "p"


class _Wire:
    __slots__ = ()

    def wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def encode(self) -> str:
        return json.dumps(self.wire(), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Chunk(_Wire):
    """A chunk just stored: `seq`, ending at TEXT code point `end`; `text` is None when too large to publish (the
    observers read it from the database). `place` is None for TEXT part 0, otherwise which part and where in it the
    chunk ends (`engine/log.py`)."""

    stream_id: str
    seq: int
    end: int
    text: str | None
    place: PartPlace | None = None

    @classmethod
    def of(cls, stream_id: str, chunk: StoredChunk) -> Chunk:
        return cls(stream_id, chunk.seq, chunk.end_offset, chunk.text, chunk.place)

    def stored(self, text: str) -> StoredChunk:
        return StoredChunk(self.seq, text, self.end, self.place)

    def wire(self) -> dict[str, Any]:
        kind = Kind.CHUNK if self.place is None else Kind.PART_CHUNK
        fields: dict[str, Any] = {"k": kind.value, "s": self.stream_id, "q": self.seq, "e": self.end}
        if self.text is not None:
            fields["d"] = self.text
        if self.place is not None:
            place = self.place
            optional = (("t", place.kind), ("n", place.tool_name), ("i", place.tool_call_id), ("r", place.is_error))
            fields.update({"p": place.part, "pe": place.part_end}, **{k: v for k, v in optional if v is not None})
        return fields

    def without_text(self) -> Chunk:
        return replace(self, text=None)


@dataclass(frozen=True, slots=True)
class Status(_Wire):
    """A live status (STREAMING: the stream was claimed)."""

    stream_id: str
    status: StreamStatus

    def wire(self) -> dict[str, Any]:
        return {"k": Kind.STATUS.value, "s": self.stream_id, "st": self.status.value}


@dataclass(frozen=True, slots=True)
class Final(_Wire):
    """A final status, stored before it is published."""

    stream_id: str
    status: StreamStatus

    def wire(self) -> dict[str, Any]:
        return {"k": Kind.FINAL.value, "s": self.stream_id, "st": self.status.value}


@dataclass(frozen=True, slots=True)
class Cancel(_Wire):
    """Please stop your generation of this stream (whichever process has it)."""

    stream_id: str

    def wire(self) -> dict[str, Any]:
        return {"k": Kind.CANCEL.value, "s": self.stream_id}


@dataclass(frozen=True, slots=True)
class Ping(_Wire):
    """A process's ping to itself: its coming back proves the link works both ways."""

    origin: str

    def wire(self) -> dict[str, Any]:
        return {"k": Kind.PING.value, "o": self.origin}


@dataclass(frozen=True, slots=True)
class Unknown(_Wire):
    """A kind this version does not know, about a stream: its observers read the database."""

    kind: str
    stream_id: str

    def wire(self) -> dict[str, Any]:
        return {"k": self.kind, "s": self.stream_id}


HubMessage = Chunk | Status | Final | Cancel | Ping | Unknown


def decode(payload: str) -> HubMessage | None:
    """The message `payload` carries, or None when it is not one (not JSON, a field missing or of the wrong type)."""
    try:
        fields = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(fields, dict) or not isinstance(kind := fields.get("k"), str):
        return None
    if kind == Kind.PING:
        origin = fields.get("o")
        return Ping(origin) if isinstance(origin, str) else None
    stream_id = fields.get("s")
    if not isinstance(stream_id, str):
        return None
    if kind in (Kind.CHUNK, Kind.PART_CHUNK):
        seq, end, text = fields.get("q"), fields.get("e"), fields.get("d")
        if not isinstance(seq, int) or not isinstance(end, int) or not isinstance(text, str | None):
            return None
        if kind == Kind.CHUNK:
            return Chunk(stream_id, seq, end, text)
        return _part_chunk(stream_id, seq, end, text, fields)
    if kind in (Kind.STATUS, Kind.FINAL):
        try:
            status = StreamStatus(fields["st"])
        except (KeyError, ValueError):
            return None
        return Status(stream_id, status) if kind == Kind.STATUS else Final(stream_id, status)
    if kind == Kind.CANCEL:
        return Cancel(stream_id)
    return Unknown(kind, stream_id)


def _part_chunk(stream_id: str, seq: int, end: int, text: str | None, fields: dict[str, Any]) -> Chunk | None:
    part, part_end = fields.get("p"), fields.get("pe")
    kind, name, call_id, is_error = fields.get("t"), fields.get("n"), fields.get("i"), fields.get("r")
    if not isinstance(part, int) or not isinstance(part_end, int):
        return None
    if not all(isinstance(v, str | None) for v in (kind, name, call_id)) or not isinstance(is_error, bool | None):
        return None
    return Chunk(stream_id, seq, end, text, PartPlace(part, kind, name, call_id, is_error, part_end))
