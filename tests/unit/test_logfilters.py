from __future__ import annotations

import logging

from persistream.logfilters import AccessLogRedaction, redact_share_tokens


def test_share_tokens_leave_request_lines() -> None:
    assert redact_share_tokens("GET /?share=abc-DEF_123 HTTP/1.1") == "GET /?share=[redacted] HTTP/1.1"
    assert redact_share_tokens("/?thread=t&share=abc&x=1") == "/?thread=t&share=[redacted]&x=1"
    assert redact_share_tokens("/?thread=abc") == "/?thread=abc"


def test_the_access_filter_rewrites_uvicorns_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/?share=SECRETTOKEN", "1.1", 200),
        None,
    )
    assert AccessLogRedaction().filter(record)
    assert "SECRETTOKEN" not in record.getMessage()
    assert "/?share=[redacted]" in record.getMessage()


def test_a_graphql_get_loses_its_query_string() -> None:
    """A GraphQL GET names share tokens in its document or variables; the access line keeps only the path."""
    line = "GET /graphql?query=%7B+sharedThread%28token%3A+%22SECRETTOKEN%22%29+%7B+id+%7D+%7D&v=%7B%7D HTTP/1.1"
    assert redact_share_tokens(line) == "GET /graphql?[redacted] HTTP/1.1"
    assert "SECRETTOKEN" not in redact_share_tokens("/graphql/?variables=%7B%22t%22%3A%22SECRETTOKEN%22%7D")
    assert redact_share_tokens("POST /graphql HTTP/1.1") == "POST /graphql HTTP/1.1"
