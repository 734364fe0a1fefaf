"""Secrets never reach logs: keys, bearer tokens and URL passwords are replaced, the rest is kept."""

from __future__ import annotations

import pytest

from persistream.redact import redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Incorrect API key provided: sk-test-SECRET-key-0123456789abcdef.", "SECRET-key-0123456789abcdef"),
        ("key sk-proj-AbCdEf_0123-xyz rejected", "AbCdEf_0123-xyz"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ('{"api_key": "abcd1234efgh"}', "abcd1234efgh"),
        ("api-key=abcd1234efgh&x=1", "abcd1234efgh"),
        ("token: zzzz-9999-yyyy", "zzzz-9999-yyyy"),
        ("redis://user:hunter2password@cache:6379/0", "hunter2password"),
        ("postgresql+asyncpg://app:p%40ss-w0rd@db/app", "p%40ss-w0rd"),
    ],
)
def test_secrets_are_removed(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_url_keeps_everything_but_the_password() -> None:
    assert redact("redis://user:hunter2@cache:6379/0") == "redis://user:[redacted]@cache:6379/0"


@pytest.mark.parametrize(
    "text",
    [
        "The model is overloaded, try again later.",
        "stream 123e4567-e89b-12d3-a456-426614174000 claimed",
        "sqlite+aiosqlite:///persistream.db",
        "redis://cache:6379/0",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text
