"""Ids are random UUIDs in their canonical 36-character text form; anything else is malformed."""

from __future__ import annotations

import uuid

from persistream.errors import BadInput


def new_id() -> str:
    return str(uuid.uuid4())


def parse_id(value: str, what: str = "id") -> str:
    """The canonical (lower-case) form of `value`, or BadInput naming `what`."""
    if len(value) == 36:
        try:
            parsed = str(uuid.UUID(value))
        except ValueError:
            pass
        else:
            if parsed == value.lower():
                return parsed
    raise BadInput(f"{what} must be a UUID like 123e4567-e89b-12d3-a456-426614174000")
