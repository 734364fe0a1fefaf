"""Ids: random UUIDs in canonical 36-character form; anything else is BAD_USER_INPUT."""

from __future__ import annotations

import uuid

import pytest

from persistream.engine.ids import new_id, parse_id
from persistream.errors import BadInput


def test_new_ids_are_canonical_random_uuids() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert len(value) == 36
        assert str(uuid.UUID(value)) == value
        assert uuid.UUID(value).version == 4
        assert parse_id(value) == value


def test_upper_case_is_the_same_id() -> None:
    value = new_id()
    assert parse_id(value.upper()) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "not-an-id",
        "123e4567e89b12d3a456426614174000",  # hex without hyphens
        "{123e4567-e89b-12d3-a456-426614174000}",
        "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
        " 123e4567-e89b-12d3-a456-42661417400",  # padded to 36
        "123e4567-e89b-12d3-a456-4266141740000",  # 37
        "123e4567-e89b-12d3-a456-42661417400g",
        "----123e4567e89b12d3a456426614174000",  # 36 characters that uuid.UUID would accept
        "123e4567-e89b-12d3-a456-426614174000\n"[:-1] + "\n",
        "１２３e4567-e89b-12d3-a456-426614174000",  # full-width digits
        "' OR 1=1 --",
    ],
)
def test_malformed_ids_are_bad_input(value: str) -> None:
    with pytest.raises(BadInput) as raised:
        parse_id(value, "streamId")
    assert "streamId" in str(raised.value)
    assert raised.value.code == "BAD_USER_INPUT"
