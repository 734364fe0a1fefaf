"""Who a caller is, as the chat layer sees it. The engine never sees identities; the chat layer checks ownership.

An identity is an opaque, stable string: the one local user (`LOCAL`) when authentication is off, a signed
anonymous cookie's id, a JWT's `sub`, or a trusted proxy's header. Threads store it as their `owner`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    id: str


# The single identity of a personal server (`PERSISTREAM_AUTH=none`): every caller is this one.
LOCAL = Identity("local")
