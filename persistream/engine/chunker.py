"""Decides where the token stream is cut into persisted chunks. Pure: no I/O, no clock of its own.

A chunk is cut when the buffer ends a sentence or a line, when it reaches `max_chars` code points, or (asked by
the caller's timer through `due_at`/`take`) when `max_delay` seconds have passed since its first token.
Concatenating every chunk returned gives back exactly the tokens added, in order.
"""

from __future__ import annotations

SENTENCE_ENDS = frozenset(".!?;:。！？；…\n")


class Chunker:
    def __init__(self, max_chars: int, max_delay: float) -> None:
        self.max_chars = max_chars
        self.max_delay = max_delay
        self._parts: list[str] = []
        self._size = 0
        self._first_at: float | None = None

    def __len__(self) -> int:
        return self._size

    def add(self, token: str, now: float) -> list[str]:
        """Buffer `token`; return the chunks it completes (usually none, at most a few for a huge token)."""
        if not token:
            return []
        if self._first_at is None:
            self._first_at = now
        ready: list[str] = []
        # An enormous token is cut by position: re-slicing the rest after every chunk would copy it once per chunk.
        start = 0
        while self._size + len(token) - start > self.max_chars:
            room = self.max_chars - self._size
            self._parts.append(token[start : start + room])
            self._size += room
            ready.append(self._cut())
            start += room
            self._first_at = now
        if start:
            token = token[start:]
        if token:
            self._parts.append(token)
            self._size += len(token)
        if self._size and (self._size >= self.max_chars or _ends_sentence(token)):
            ready.append(self._cut())
        return ready

    def due_at(self) -> float | None:
        """When the buffered text must be flushed even without a sentence end; None when empty."""
        return None if self._first_at is None else self._first_at + self.max_delay

    def take(self) -> str:
        """Everything buffered, as one chunk (may be empty)."""
        return self._cut() if self._size else ""

    def _cut(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._first_at = None
        return text


def _ends_sentence(token: str) -> bool:
    """True when the token closes a sentence or a line: its last non-blank character is a terminator."""
    stripped = token.rstrip(" \t")
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS
