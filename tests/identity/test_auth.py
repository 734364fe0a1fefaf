"""Credentials refused over HTTP (UNAUTHENTICATED) and WebSocket (close 4403, legacy: connection_error), the
proxy header required, anonymous identities that survive a restart, and protected mode."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import ServerFactory
from tests.support.gql import SEND
from tests.support.identities import AUDIENCE, HS_SECRET, ISSUER, Caller, anonymous, bearer, hs_token
from tests.support.server import ServerProcess
from tests.support.streams import assert_clean_log

JWT_ENV = {
    "PERSISTREAM_AUTH": "jwt",
    "PERSISTREAM_JWT_SECRET": HS_SECRET,
    "PERSISTREAM_JWT_AUDIENCE": AUDIENCE,
    "PERSISTREAM_JWT_ISSUER": ISSUER,
}


def bad_tokens() -> dict[str, str]:
    """Made when a test runs, not when the module is imported: a suite that runs for longer than the margins below
    would otherwise find "not yet valid" valid."""
    now = int(time.time())
    return {
        "expired": hs_token("alice", exp=now - 120),
        "not yet valid": hs_token("alice", nbf=now + 600),
        "bad signature": hs_token("alice", secret="another-secret-that-is-long-enough-for-hs256"),
        "wrong audience": hs_token("alice", aud="someone-else"),
        "wrong issuer": hs_token("alice", iss="https://evil.test"),
        "no sub": hs_token(None),
        "not a jwt": "not.a.jwt",
    }


THREADS = "query { threads { id } }"


def code_of(result: dict[str, Any]) -> str:
    assert result.get("data") is None, result
    code: str = result["errors"][0]["extensions"]["code"]
    return code


async def ws_refusal(server: ServerProcess, payload: dict[str, Any], *, legacy: bool) -> tuple[Any, int | None]:
    """The reply to connection_init with this payload, and the close code that follows."""
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    async with websockets.connect(server.graphql_ws, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        replies = []
        try:
            while True:
                replies.append(json.loads(await ws.recv()))
        except websockets.ConnectionClosed:
            pass
        return replies, ws.close_code


async def test_jwt_refusals(make_server: ServerFactory) -> None:
    server = make_server(**JWT_ENV)
    good = bearer(server, hs_token("alice"))
    assert not (await good.gql(THREADS)).get("errors")
    # No credential: anything that needs an identity is UNAUTHENTICATED.
    assert code_of(await Caller(server).gql(THREADS)) == "UNAUTHENTICATED"
    assert code_of(await Caller(server).gql(SEND, {"prompt": "Hi", "thread": None})) == "UNAUTHENTICATED"
    for why, token in bad_tokens().items():
        caller = bearer(server, token)
        assert code_of(await caller.gql(THREADS)) == "UNAUTHENTICATED", why
        # A bad credential is refused even for share reads, which need none.
        query = 'query { sharedThread(token: "x") { id } }'
        assert code_of(await caller.gql(query)) == "UNAUTHENTICATED", why
        replies, close = await ws_refusal(server, {"Authorization": f"Bearer {token}"}, legacy=False)
        assert (replies, close) == ([], 4403), why
        replies, close = await ws_refusal(server, {"Authorization": f"Bearer {token}"}, legacy=True)
        assert [r["type"] for r in replies] == ["connection_error"], why
        assert close == 4403, why  # not 1011, the code of a server failure
    # The same token on the upgrade's header is refused the same way.
    async with websockets.connect(
        server.graphql_ws,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {bad_tokens()['expired']}"},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4403
    log = server.log()
    for token in [*bad_tokens().values(), hs_token("alice")]:
        assert token not in log
    assert_clean_log(server)


async def test_proxy_without_its_header_is_unauthenticated(make_server: ServerFactory) -> None:
    server = make_server(PERSISTREAM_AUTH="proxy", PERSISTREAM_AUTH_HEADER="X-Auth-Request-User")
    assert code_of(await Caller(server).gql(THREADS)) == "UNAUTHENTICATED"
    # The default header means nothing once another is configured.
    assert code_of(await Caller(server, headers={"X-Forwarded-User": "alice"}).gql(THREADS)) == "UNAUTHENTICATED"
    alice = Caller(server, headers={"X-Auth-Request-User": "alice"})
    assert (await alice.gql("query { viewer { id } }"))["data"]["viewer"]["id"] == "alice"


async def test_anonymous_cookie_is_set_once_and_survives_a_restart(make_server: ServerFactory, tmp_path: Path) -> None:
    db_path = tmp_path / "persistream.db"
    server = make_server(db_path, PERSISTREAM_AUTH="anonymous")
    async with httpx.AsyncClient() as client:
        first = await client.get(server.graphql_http.replace("/graphql", "/"))
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    visitor = await anonymous(server)
    thread = (await visitor.gql(SEND, {"prompt": "Remember me", "thread": None}))["data"]["sendMessage"]["threadId"]
    async with httpx.AsyncClient() as client:
        again = await client.get(server.url + "/", headers=visitor.headers)
    assert "set-cookie" not in again.headers  # a valid cookie is kept, not replaced
    # Behind a trusted proxy that says https, the cookie is Secure.
    async with httpx.AsyncClient() as client:
        proxied = await client.get(server.url + "/", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["set-cookie"]
    server.stop()

    restarted = make_server(db_path, PERSISTREAM_AUTH="anonymous")
    same = Caller(restarted, headers=visitor.headers)
    assert (await same.gql("query { threads { id } }"))["data"]["threads"] == [{"id": thread}]
    async with same.ws() as client:  # the upgrade carries the cookie: the same identity over WebSocket
        events = [e async for e in client.subscribe("query { threads { id } }")]
    assert events == [{"threads": [{"id": thread}]}]
    forged = Caller(restarted, headers={"cookie": visitor.headers["cookie"][:-2] + "xx"})
    async with forged.ws() as client:  # a bad cookie over WebSocket: a fresh identity owning nothing
        events = [e async for e in client.subscribe("query { threads { id } }")]
    assert events == [{"threads": []}]


def test_protected_mode_refuses_a_public_bind(tmp_path: Path) -> None:
    def serve(auth: str | None, *extra: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "PERSISTREAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"}
        if auth is not None:
            env["PERSISTREAM_AUTH"] = auth
        return subprocess.run(
            [sys.executable, "-m", "persistream", "serve", "--host", "0.0.0.0", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )

    refused = serve(None)
    assert refused.returncode == 2
    assert "PERSISTREAM_AUTH" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert serve(None, "--host", "127.0.0.1", "--workers", "0").stderr.startswith("persistream: --workers")
    # Explicitly none gets past the check, to the next one (an impossible --workers, so nothing is served).
    allowed = serve("none", "--workers", "0")
    assert allowed.returncode == 2
    assert "PERSISTREAM_AUTH" not in allowed.stderr and "--workers must be 1 or more" in allowed.stderr
