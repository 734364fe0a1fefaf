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
