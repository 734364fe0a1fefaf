"""`proxy`: an authenticating reverse proxy in front (oauth2-proxy and the like) names the user in a header.

Safe only behind such a proxy, which must drop the header from what clients send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection

from persistream.chat.identity import Identity
from persistream.errors import Unauthenticated

MAX_ID_CHARS = 200  # threads.owner holds 200


class ProxyAuthenticator:
    def __init__(self, header: str) -> None:
        self.header = header

    async def authenticate(self, conn: HTTPConnection, connection_params: Mapping[str, Any] | None) -> Identity | None:
        value = conn.headers.get(self.header)
        if value is None:
            return None
        value = value.strip()
        if not value or len(value) > MAX_ID_CHARS:
            raise Unauthenticated("The authentication header is empty or too long.")
        return Identity(value)
