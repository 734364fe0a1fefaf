"""Removes secrets (API keys, bearer tokens, passwords in URLs) from text bound for logs."""

from __future__ import annotations

import re

_PATTERNS = (
    re.compile(r"(sk-)[A-Za-z0-9_\-*]{4,}"),
    re.compile(r"(bearer\s+)[^\s\"',;]{4,}", re.IGNORECASE),
    re.compile(r"((?:api[-_ ]?key|token|authorization)[\"']?\s*[:= ]\s*[\"']?)[^\s\"',;]{4,}", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]" + (m.group(2) if m.lastindex == 2 else ""), text)
    return text
