"""`anonymous`: one identity per browser, held in a signed cookie (itsdangerous, as Starlette's sessions use).

The cookie holds a random id and its signature. The signing key is `PERSISTREAM_SECRET_KEY`, or else one generated
once and kept in the database (insert-if-absent), so every process and every restart accepts the same cookies.
`AnonymousCookies` (the middleware) gives a browser without a valid cookie a new identity on its first response of
`/`, `/graphql` or `/agui` (under the path the app is served at, which is also the cookie's `Path`); a WebSocket
upgrade cannot set a cookie, so one without a valid cookie is a fresh identity that owns nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persistream.chat.identity import Identity
from persistream.web.auth import ServerSecret
from persistream.web.paths import base_path, route_path

COOKIE_NAME = "persistream_id"
SALT = "persistream.anonymous-id"
KEY_NAME = "anonymous_cookie_key"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
SCOPE_KEY = "persistream.anonymous_id"  # an id minted for this request by the middleware


class SigningKey:
    """The cookie signer, loaded once: from the setting, else from (or into) the database."""

    def __init__(self, server_secret: ServerSecret, configured: str | None) -> None:
        self.server_secret = server_secret
        self.configured = configured
        self._signer: Signer | None = None
        self._lock = asyncio.Lock()

    async def signer(self) -> Signer:
        if self._signer is None:
            async with self._lock:
                if self._signer is None:
                    key = self.configured or await self.server_secret(KEY_NAME)
                    self._signer = Signer(key, salt=SALT)
        return self._signer


class AnonymousAuthenticator:
    def __init__(self, key: SigningKey) -> None:
        self.key = key

    async def cookie_identity(self, conn: HTTPConnection) -> str | None:
        cookie = conn.cookies.get(COOKIE_NAME)
        if not cookie:
            return None
        try:
            return (await self.key.signer()).unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None

    async def authenticate(self, conn: HTTPConnection, connection_params: Mapping[str, Any] | None) -> Identity | None:
        identity = conn.scope.get(SCOPE_KEY) or await self.cookie_identity(conn)
        # No valid cookie (only a WebSocket can get here without one): a fresh identity that owns nothing.
        return Identity(identity or new_anonymous_id())

    async def cookie_for(self, identity: str) -> str:
        return (await self.key.signer()).sign(identity).decode("ascii")


def _sets_cookie(path: str) -> bool:
    """The pages and endpoints a browser's first request may reach: the chat page, /graphql and AG-UI's."""
    return path in ("/", "/graphql", "/agui") or path.startswith("/agui/")


def new_anonymous_id() -> str:
    return "anon:" + secrets.token_urlsafe(18)


class AnonymousCookies:
    """Sets the identity cookie on HTTP responses of `/`, `/graphql` and `/agui` for a browser that has no valid one."""

    def __init__(self, app: ASGIApp, authenticator: AnonymousAuthenticator) -> None:
        self.app = app
        self.auth = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _sets_cookie(route_path(scope)):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if await self.auth.cookie_identity(conn) is not None:
            await self.app(scope, receive, send)
            return
        identity = new_anonymous_id()
        scope[SCOPE_KEY] = identity
        value = await self.auth.cookie_for(identity)
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        # Sent only to this app: under a host app's /chat, its requests to /chat and below, not the host's own.
        path = base_path(scope) or "/"
        cookie = f"{COOKIE_NAME}={value}; Path={path}; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
