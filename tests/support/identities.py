"""Callers for servers with PERSISTREAM_AUTH on: how each mode's client proves who it is, over HTTP and WebSocket.

`Caller.gql` posts with the caller's credential; `Caller.ws()` opens a GraphQLWS with it (cookie or header on the
upgrade, or the token in the `connection_init` payload). Keys are made here, fresh per test session."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.gql import GraphQLWS, gql
from tests.support.secrets import remember
from tests.support.server import ServerProcess

HS_SECRET = "test-only-hs256-secret-for-persistream"
AUDIENCE = "persistream-tests"
ISSUER = "https://issuer.test"
remember(HS_SECRET)
# Server settings for jwt mode with the audience and issuer the tokens here carry.
JWT_ENV = {"PERSISTREAM_AUTH": "jwt", "PERSISTREAM_JWT_AUDIENCE": AUDIENCE, "PERSISTREAM_JWT_ISSUER": ISSUER}


@dataclass
class Caller:
    """One identity (or none) talking to one server."""

    server: ServerProcess
    headers: dict[str, str] = field(default_factory=dict)
    init_payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        remember(*self.headers.values(), *(str(v) for v in self.init_payload.values()))

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await gql(self.server.graphql_http, query, variables, headers=self.headers)
        share = (result.get("data") or {}).get("shareThread")
        if isinstance(share, dict) and isinstance(share.get("token"), str):
            remember(share["token"])
        return result

    def ws(self, *, legacy: bool = False) -> GraphQLWS:
        return GraphQLWS(
            self.server.graphql_ws, legacy=legacy, init_payload=self.init_payload, additional_headers=self.headers
        )


class RsaKeys:
    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [jwk]}

    def token(self, sub: str | None, **claims: Any) -> str:
        return jwt.encode(_claims(sub, claims), self.private, algorithm="RS256", headers={"kid": self.kid})


def hs_token(sub: str | None, secret: str = HS_SECRET, **claims: Any) -> str:
    return jwt.encode(_claims(sub, claims), secret, algorithm="HS256")


def _claims(sub: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 3600}
    if sub is not None:
        claims["sub"] = sub
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def bearer(server: ServerProcess, token: str, *, on_upgrade: bool = False) -> Caller:
    """A JWT caller: the header on HTTP; over WebSocket the connection_init payload (or the upgrade's header)."""
    header = {"Authorization": f"Bearer {token}"}
    return Caller(server, headers=header, init_payload={} if on_upgrade else header)


async def anonymous(server: ServerProcess) -> Caller:
    """A browser's identity: the cookie the first response of `/` sets, sent back on HTTP and the upgrade."""
    async with httpx.AsyncClient() as client:
        response = await client.get(server.url + "/")
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    return Caller(server, headers={"cookie": cookie})


class JwksServer:
    """A JWKS document served on loopback, counting fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_jwks(document: dict[str, Any]) -> Iterator[JwksServer]:
    with JwksServer(document) as served:
        yield served
