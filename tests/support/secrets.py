"""Every secret the tests hand a server (the API key, bearer tokens, cookies, share tokens), so that each server's
whole log is searched for all of them when it stops: the contract says none may appear in any log line."""

from __future__ import annotations

from collections.abc import Iterable

KNOWN: set[str] = set()
# Shorter strings could appear in a log by chance (a port, a word); every real secret here is far longer.
MIN_LENGTH = 12


def remember(*secrets: str) -> None:
    KNOWN.update(s for s in secrets if len(s) >= MIN_LENGTH)


def leaked(text: str, secrets: Iterable[str] | None = None) -> list[str]:
    """The known secrets that occur in `text`, each cut to a prefix so the report does not spread it further."""
    return sorted(s[:6] + "..." for s in (KNOWN if secrets is None else secrets) if s in text)
