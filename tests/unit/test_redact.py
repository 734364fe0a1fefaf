"""Secrets never reach logs: keys, bearer tokens and URL passwords are replaced, the rest is kept."""

from __future__ import annotations

import pytest

from persistream.engine.hub import _short
from persistream.errinfo import describe
from persistream.redact import redact, redact_line


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
        ("Error 111 connecting to redis://:hunter2secret@cache:6379.", "hunter2secret"),
        ("rediss://:s3cr3t@cache:6380/1", "s3cr3t"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("authorization=basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("headers {'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("host=db port=5432 user=app password=hunter2 dbname=app", "hunter2"),
        ("postgresql://db/app?user=app&password=s%3Dcret&sslmode=require", "s%3Dcret"),
        ('{"password": "pw1"}', "pw1"),
        ("PGPASSWORD=abc123 psql", "abc123"),
    ],
)
def test_secrets_are_removed(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_url_keeps_everything_but_the_password() -> None:
    assert redact("redis://user:hunter2@cache:6379/0") == "redis://user:[redacted]@cache:6379/0"
    assert redact("redis://:hunter2@cache:6379/0") == "redis://:[redacted]@cache:6379/0"
    assert redact("user=app password=hunter2 dbname=app") == "user=app password=[redacted] dbname=app"


def test_a_secret_is_redacted_before_the_line_is_cut() -> None:
    # Cut first, the key's tail would be too short to recognise and a part of it would reach the log.
    text = "x" * 190 + " sk-test-SECRET-key-0123456789abcdef"
    line = redact_line(text)
    assert "sk-tes" not in line and "SECRET" not in line
    assert len(line) <= 200
    assert redact_line("first line password=pw\nsecond") == "first line password=[redacted]"
    assert redact_line("first\nsk-second-line-key") == "first"


def test_error_descriptions_for_logs_are_redacted_then_cut() -> None:
    try:
        raise ConnectionError("y" * 195 + " redis://:hunter2secret@cache:6379 refused")
    except ConnectionError as exc:
        described = describe(exc)
    assert "hunter" not in described and described.startswith("ConnectionError at test_redact.py:")


def test_hub_link_errors_are_redacted() -> None:
    assert "pw-in-url" not in _short(OSError("cannot reach redis://:pw-in-url@cache:6379"))


@pytest.mark.parametrize(
    "text",
    [
        "The model is overloaded, try again later.",
        "stream 123e4567-e89b-12d3-a456-426614174000 claimed",
        "sqlite+aiosqlite:///persistream.db",
        "redis://cache:6379/0",
        "http://127.0.0.1:8000/graphql",
        "the password is wrong",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact(text) == text
