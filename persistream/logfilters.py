"""Logging filters for what uvicorn writes itself: its access log sees each request line, share links included."""

from __future__ import annotations

import logging
import re

# A share link is `/?share=TOKEN` (contract: no share token in any log line); the token is the credential.
_SHARE = re.compile(r"([?&]share=)[^&#\s]*", re.IGNORECASE)
# A GraphQL GET carries its document and variables in the query string, share tokens included
# (`sharedThread(token: "...")`, `shareToken: $t`): the whole query string goes.
_GRAPHQL_QUERY = re.compile(r"(/graphql/?\?)[^#\s\"]*", re.IGNORECASE)


def redact_share_tokens(text: str) -> str:
    return _GRAPHQL_QUERY.sub(r"\1[redacted]", _SHARE.sub(r"\1[redacted]", text))


class AccessLogRedaction(logging.Filter):
    """Hides share tokens in uvicorn's access lines (its formatter reads the path from record.args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_share_tokens(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact_share_tokens(str(record.msg))
        return True


# What uvicorn logs with a stack trace although the fault is the client's, not the server's.
CLIENT_FAULTS = ("Invalid UTF-8 sequence received from client.",)


class ClientFaultsInOneLine(logging.Filter):
    """uvicorn logs a WebSocket text frame that is not UTF-8 (which it closes with 1007) as an ERROR with a stack
    trace; it is a client's bad input, logged as one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() in CLIENT_FAULTS:
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
