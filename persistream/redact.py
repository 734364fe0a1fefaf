"""Removes secrets (API keys, bearer and basic credentials, passwords in URLs and DSNs) from text bound for logs.

Redact before cutting text short: a secret cut in half no longer looks like one and would slip through.
"""

from __future__ import annotations

import re

# Each pattern keeps group 1 (what names the secret) and, when present, group 2 (what follows it).
_PATTERNS = (
    re.compile(r"(sk-)[A-Za-z0-9_\-*]{4,}"),
    # `Authorization: Basic dXNlcjpwYXNz`, `Bearer eyJ...`, and any other scheme's credential after the word.
    re.compile(r"((?:bearer|basic|digest|token)\s+)[^\s\"',;]{4,}", re.IGNORECASE),
    re.compile(
        r"((?:authorization|proxy-authorization)[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z]+\s+)?)[^\s\"',;]{4,}", re.IGNORECASE
    ),
    re.compile(r"((?:api[-_ ]?key|token|secret|access[-_]?key)[\"']?\s*[:= ]\s*[\"']?)[^\s\"',;&]{4,}", re.IGNORECASE),
    # `password=...`, `passwd: ...`, `pwd=...` in DSNs, query strings and key-value text.
    re.compile(r"((?:password|passwd|pwd)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+", re.IGNORECASE),
    # `scheme://user:password@host`, and `redis://:password@host` with no user.
    re.compile(r"(://[^:/@\s]*:)[^@\s/]+(@)"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]" + (m.group(2) if m.lastindex == 2 else ""), text)
    return text


def redact_line(text: str, limit: int = 200) -> str:
    """The first line of `text`, redacted and then cut to `limit` characters (in that order)."""
    first = text.splitlines()[0] if text else ""
    return redact(first)[:limit]
