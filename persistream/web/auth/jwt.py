"""`jwt`: the caller is the `sub` of a JSON Web Token, checked by PyJWT.

The token comes as `Authorization: Bearer <token>` on HTTP (and on a WebSocket upgrade), or in the
`connection_init` payload as `{"Authorization": "Bearer <token>"}`. Keys: an HS256 secret, a PEM public key
(RS/ES/PS algorithms), or a JWKS URL whose keys PyJWKClient fetches; an unknown `kid` re-fetches the set at most
every `JWKS_REFETCH_SECONDS`, so a stream of forged kids cannot make the server hammer the issuer.
Audience and issuer are checked when set and ignored when unset. A token is never logged or echoed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import jwt
from starlette.requests import HTTPConnection

from persistream.chat.identity import Identity
from persistream.config import Settings
from persistream.errors import Unauthenticated

JWKS_REFETCH_SECONDS = 30.0
ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
MAX_SUB_CHARS = 200  # threads.owner holds 200
REFUSED = "The bearer token is not valid."


class JwksKeys:
    """Signing keys by `kid`, from a JWKS URL; fetched lazily, re-fetched for an unknown kid at most every 30 s."""

    def __init__(self, url: str) -> None:
        self.client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=10)
        self.keys: dict[str | None, jwt.PyJWK] = {}
        self.fetched_at = float("-inf")
        self.lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid not in self.keys:
            async with self.lock:
                if kid not in self.keys and time.monotonic() - self.fetched_at >= JWKS_REFETCH_SECONDS:
                    self.fetched_at = time.monotonic()
                    try:
                        jwk_set = await asyncio.to_thread(self.client.get_jwk_set, True)
                    except jwt.PyJWKClientError:
                        raise Unauthenticated(REFUSED) from None
                    self.keys = {key.key_id: key for key in jwk_set.keys}
                    if len(jwk_set.keys) == 1 and None not in self.keys:
                        # A single key without a kid in the token is unambiguous.
                        self.keys[None] = jwk_set.keys[0]
        key = self.keys.get(kid)
        if key is None:
            raise Unauthenticated(REFUSED)
        return key


class JWTAuthenticator:
    def __init__(self, settings: Settings) -> None:
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.secret = settings.jwt_secret
        self.public_key = settings.jwt_public_key
        self.jwks = JwksKeys(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    async def authenticate(self, conn: HTTPConnection, connection_params: Mapping[str, Any] | None) -> Identity | None:
        header = _param(connection_params, "authorization")
        if header is None:
            header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(REFUSED)
        return Identity(await self.subject(token.strip()))

    async def subject(self, token: str) -> str:
        try:
            if self.secret is not None:
                key: Any = self.secret
                algorithms = ["HS256"]
            elif self.public_key is not None:
                key, algorithms = self.public_key, ASYMMETRIC
            else:
                assert self.jwks is not None
                signing = await self.jwks.key_for(jwt.get_unverified_header(token).get("kid"))
                key, algorithms = signing.key, [signing.algorithm_name]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub"], "verify_aud": self.audience is not None},
                leeway=5,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthenticated(REFUSED) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS:
            raise Unauthenticated(REFUSED)
        return sub


def _param(params: Mapping[str, Any] | None, name: str) -> str | None:
    """A connection_init entry by case-insensitive name (clients send `Authorization` or `authorization`)."""
    if not params:
        return None
    for key, value in params.items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else ""
    return None
