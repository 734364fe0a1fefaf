"""Who the caller is: one authenticator per `PERSISTREAM_AUTH` mode, chosen by name like broadcaster's backends.

An authenticator answers once per HTTP request and once per WebSocket connection. It returns the caller's
`Identity`, or None when the request carries no credential at all (share reads need none in any mode); it raises
`Unauthenticated` for a credential that is there but wrong. Apps that embed persistream pass their own object to
`create_app(settings, authenticate=...)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import HTTPConnection

from persistream.chat.identity import LOCAL, Identity
from persistream.config import Settings

# (name) -> a secret every process of the deployment shares, made once and kept (`Services.server_secret`).
ServerSecret = Callable[[str], Awaitable[str]]


class Authenticator(Protocol):
    async def authenticate(self, conn: HTTPConnection, connection_params: Mapping[str, Any] | None) -> Identity | None:
        """The caller, None without a credential; raises `Unauthenticated` for a bad one."""
        ...


class LocalAuthenticator:
    """`none`: a personal server, every caller is the one local user."""

    async def authenticate(self, conn: HTTPConnection, connection_params: Mapping[str, Any] | None) -> Identity | None:
        return LOCAL


def create_authenticator(settings: Settings, server_secret: ServerSecret) -> Authenticator:
    # Imported here so a mode's libraries (PyJWT's crypto) load only when that mode is used.
    if settings.auth_mode == "anonymous":
        from persistream.web.auth.anonymous import AnonymousAuthenticator, SigningKey

        return AnonymousAuthenticator(SigningKey(server_secret, settings.secret_key))
    if settings.auth_mode == "jwt":
        from persistream.web.auth.jwt import JWTAuthenticator

        return JWTAuthenticator(settings)
    if settings.auth_mode == "proxy":
        from persistream.web.auth.proxy import ProxyAuthenticator

        return ProxyAuthenticator(settings.auth_header)
    return LocalAuthenticator()


__all__ = ["Authenticator", "LocalAuthenticator", "ServerSecret", "create_authenticator"]
