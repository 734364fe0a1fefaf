"""Cursors round-trip, and anything this server could not have made for the stream is refused."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from persistream.engine.cursor import START, UNPLACED, Place, Position, decode, encode
from persistream.errors import BadInput

STREAM = "123e4567-e89b-12d3-a456-426614174000"
OTHER = "223e4567-e89b-12d3-a456-426614174000"


@given(st.integers(0, 10_000), st.integers(0, 10**12), st.none() | st.integers(0, 10**12))
def test_a_cursor_names_the_place_it_was_made_for(part: int, offset: int, text: int | None) -> None:
    cursor = encode(STREAM, Position(part, offset), text)
    assert decode(STREAM, cursor) == Place(Position(part, offset), text)
    assert cursor.isascii() and "=" not in cursor and len(cursor) <= 96


@given(st.integers(0, 10**12))
def test_a_reader_with_no_place_yet_has_a_cursor_of_its_text_offset(text: int) -> None:
    assert decode(STREAM, encode(STREAM, UNPLACED, text)) == Place(UNPLACED, text)


def test_positions_order_by_part_then_offset() -> None:
    assert START < Position(0, 5) < Position(1, 0) < Position(1, 2)


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "é",
        "x" * 97,
        forged("1.0.5.000000000000"),  # a position with a check that is not ours
        forged("3.0.5." + "0" * 12),  # a version we never made
        forged("2.0.5." + "0" * 12),  # version 2 with version 1's fields
        forged("1.-1.5.abc"),
        forged("1.-2.0.abc"),
        forged("1.0"),
    ],
)
def test_a_cursor_we_could_not_have_made_is_bad_input(cursor: str) -> None:
    with pytest.raises(BadInput, match="fromCursor"):
        decode(STREAM, cursor)


def test_a_cursor_of_another_stream_is_refused() -> None:
    with pytest.raises(BadInput):
        decode(OTHER, encode(STREAM, Position(2, 7)))


def test_a_tampered_cursor_is_refused() -> None:
    cursor = encode(STREAM, Position(1, 10))
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    version, _, offset, check = raw.split(".")
    with pytest.raises(BadInput):
        decode(STREAM, forged(f"{version}.2.{offset}.{check}"))


def test_a_negative_part_is_only_ever_the_unplaced_reader_with_its_text() -> None:
    from persistream.engine.cursor import _check

    for raw in (f"1.-1.0.{_check(STREAM, -1, 0)}", f"2.-1.7.3.{_check(STREAM, -1, 7, 3)}"):
        with pytest.raises(BadInput):
            decode(STREAM, forged(raw))
