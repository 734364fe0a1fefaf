"""persistream behind the reverse proxies of docs/deploy, run for real: the shipped nginx.conf and Caddyfile are
rendered with free ports (nothing else changed), put in front of two server processes on PostgreSQL and Redis, and
streamed through. A WebSocket driver (both subprotocols) and an HTTP observer (SSE or multipart) get exactly the
stored text, the observer's events arrive while the answer is still being written (nothing buffers them to the
end), no upstream is pinned (round robin over processes that can each serve every stream), the anonymous
cookie is Secure exactly when https reaches uvicorn from a proxy it trusts, and a rolling restart moves an
observer's WebSocket (closed with 1012) to the other process through the same proxy."""

from __future__ import annotations

import asyncio
import shutil
import signal
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import server_env
from tests.scale.conftest import REDIS_URL, ScaleServerFactory, pg_url, start_servers
from tests.scale.flows import Sub, new_stream, sentence_tokens
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import SEND, STREAM_BODY, STREAM_CHAT, GraphQLWS, check_events
from tests.support.http_stream import MULTIPART_ACCEPT, SSE_ACCEPT, parse_multipart, parse_sse
from tests.support.net import free_port
from tests.support.reverse_proxy import DEPLOY, ProxyProcess, caddy, nginx, render, self_signed_certificate
from tests.support.server import ServerProcess, stop_servers
from tests.support.streams import unique, wait_until

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
CADDY = shutil.which("caddy")
pytestmark = pytest.mark.scale
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/setup.sh --test installs it)")
needs_caddy = pytest.mark.skipif(CADDY is None, reason="caddy is not installed (scripts/setup.sh --test installs it)")

# A model pausing between tokens long enough that a proxy buffering the response would visibly hold events back.
TOKENS = ["Through", " the", " proxy", " ✨", " each", " event", " as", " it", " comes", "."]
TOKEN_DELAY = 0.15


@dataclass
class Front:
    """A running proxy: where clients reach it, and the TLS context that trusts it (None over plain http)."""

    http_url: str
    ws_url: str
    tls: ssl.SSLContext | None

    @property
    def origin(self) -> str:
        """What a browser on the page the proxy serves sends as `Origin`."""
        return self.http_url.removesuffix("/graphql")


def _nginx_front(upstreams: list[ServerProcess], directory: Path) -> tuple[ProxyProcess, Front, int]:
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed_certificate(directory)
    conf = render(
        DEPLOY / "nginx.conf",
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
            "127.0.0.1:8000": f"127.0.0.1:{upstreams[0].port}",
            "127.0.0.1:8001": f"127.0.0.1:{upstreams[-1].port}",
            "/etc/ssl/certs/chat.example.com.pem": str(cert),
            "/etc/ssl/private/chat.example.com.key": str(key),
        },
    )
    process = nginx(conf, port=https_port, directory=directory).start()
    tls = ssl.create_default_context(cafile=str(cert))
    front = Front(f"https://127.0.0.1:{https_port}/graphql", f"wss://127.0.0.1:{https_port}/graphql", tls)
    return process, front, http_port


def _caddy_front(upstreams: list[ServerProcess], directory: Path) -> tuple[ProxyProcess, Front]:
    port = free_port()
    conf = render(
        DEPLOY / "Caddyfile",
        {
            "admin localhost:2019": f"admin 127.0.0.1:{free_port()}",
            "chat.example.com {": f"http://127.0.0.1:{port} {{",
            "127.0.0.1:8000": f"127.0.0.1:{upstreams[0].port}",
            "127.0.0.1:8001": f"127.0.0.1:{upstreams[-1].port}",
        },
    )
    process = caddy(conf, port=port, directory=directory).start()
    return process, Front(f"http://127.0.0.1:{port}/graphql", f"ws://127.0.0.1:{port}/graphql", None)


@pytest.fixture(scope="module")
def upstreams(
    fake_openai: FakeOpenAI, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    tmp = tmp_path_factory.mktemp("upstreams")
    env = server_env(
        fake_openai,
        tmp / "unused.db",
        PERSISTREAM_DATABASE_URL=pg_url(pg_database),
        PERSISTREAM_BROADCAST_URL=REDIS_URL,
    )
    processes = [ServerProcess(env, log_path=tmp / f"upstream-{i}.log") for i in range(2)]
    start_servers(*processes)
    yield processes
    stop_servers(*processes)


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def front(
    request: pytest.FixtureRequest, upstreams: list[ServerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Front]:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "nginx":
        if NGINX is None:
            pytest.skip("nginx is not installed (scripts/setup.sh --test installs it)")
        process, front, _ = _nginx_front(upstreams, directory)
    else:
        if CADDY is None:
            pytest.skip("caddy is not installed (scripts/setup.sh --test installs it)")
        process, front = _caddy_front(upstreams, directory)
    yield front
    process.stop()


async def _post(front: Front, query: str, variables: dict[str, Any], **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30, verify=front.tls or False) as client:
        return await client.post(front.http_url, json={"query": query, "variables": variables}, **kwargs)


async def _observe_http(front: Front, stream_id: str, *, multipart: bool) -> list[tuple[float, dict[str, Any]]]:
    """Each `streamBody` event of an HTTP subscription through the proxy, with the time it arrived."""
    loop = asyncio.get_running_loop()
    arrived: list[tuple[float, dict[str, Any]]] = []
    body = {"query": STREAM_BODY, "variables": {"id": stream_id, "from": 0}}
    headers = {"accept": MULTIPART_ACCEPT if multipart else SSE_ACCEPT, "origin": front.origin}
    async with (
        httpx.AsyncClient(timeout=30, verify=front.tls or False) as client,
        client.stream("POST", front.http_url, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not collected first
        pending = ""
        async for chunk in response.aiter_text():
            pending += chunk
            if multipart:
                frames, pending, _ = parse_multipart(pending)
            else:
                frames, pending = parse_sse(pending)
            for kind, payload in frames:
                if kind == "next":
                    assert not payload.get("errors"), payload
                    arrived.append((loop.time(), payload["data"]["streamBody"]))
    return arrived


@pytest.mark.parametrize(
    ("legacy", "multipart"), [(False, False), (True, True)], ids=["transport-ws+sse", "graphql-ws+multipart"]
)
async def test_driver_and_observer_through_the_proxy_get_the_stored_text_as_it_is_written(
    front: Front, fake_openai: FakeOpenAI, legacy: bool, multipart: bool
) -> None:
    name = unique("proxy")
    marker = fake_openai.add(name, Script(TOKENS, delay=TOKEN_DELAY))
    sent = await _post(front, SEND, {"prompt": f"Answer {marker}", "thread": None})
    stream_id = sent.json()["data"]["sendMessage"]["responseStreamId"]
    expected = "".join(TOKENS)

    observer = asyncio.create_task(_observe_http(front, stream_id, multipart=multipart))
    # As the chat page would: its Origin is the proxy's, and the Host passed on lets the server see it as its own.
    async with GraphQLWS(front.ws_url, legacy=legacy, ssl=front.tls, origin=front.origin) as ws:
        driven = [e["streamChat"] async for e in ws.subscribe(STREAM_CHAT, {"id": stream_id})]
    observed = await asyncio.wait_for(observer, 30)

    assert check_events(driven) == expected
    events = [event for _, event in observed]
    assert check_events(events) == expected
    stored = await _post(front, """query($id: ID!) { streamBody(streamId: $id) { text status } }""", {"id": stream_id})
    assert stored.json()["data"]["streamBody"] == {"text": expected, "status": "DONE"}
    # Not buffered to the end: text reached the observer while the answer was still streaming, well before the
    # final event, as far apart as the model wrote it.
    with_text = [(t, e) for t, e in observed if e["delta"]]
    assert with_text and with_text[0][1]["status"] == "STREAMING", events
    final_at = observed[-1][0]
    assert final_at - with_text[0][0] > TOKEN_DELAY * len(TOKENS) / 3, [t - final_at for t, _ in observed]
    assert len(fake_openai.requests_for(name)) == 1


async def test_requests_are_spread_over_every_upstream(front: Front, upstreams: list[ServerProcess]) -> None:
    """Round robin, no stickiness: a handful of queries through the proxy reach both processes."""
    for _ in range(6):
        response = await _post(front, "query { threads { id } }", {})
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    logs = [process.log() for process in upstreams]
    assert all("POST /graphql" in log for log in logs), "a process behind the proxy served nothing"


@needs_nginx
@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "untrusted-proxy"])
async def test_https_at_nginx_makes_the_anonymous_cookie_secure_only_when_uvicorn_trusts_it(
    fake_openai: FakeOpenAI, tmp_path: Path, trusted: bool
) -> None:
    env = server_env(fake_openai, tmp_path / "anon.db", PERSISTREAM_AUTH="anonymous")
    # uvicorn's --forwarded-allow-ips, read from the environment; nginx connects from 127.0.0.1.
    env["FORWARDED_ALLOW_IPS"] = "127.0.0.1" if trusted else "192.0.2.1"
    server = ServerProcess(env, log_path=tmp_path / "anon.log").start()
    process, front, http_port = _nginx_front([server], tmp_path)
    try:
        async with httpx.AsyncClient(timeout=30, verify=front.tls or False) as client:
            page = await client.get(front.http_url.removesuffix("/graphql") + "/")
            plain = await client.get(f"http://127.0.0.1:{http_port}/", follow_redirects=False)
    finally:
        process.stop()
        server.stop()
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert ("Secure" in cookie) is trusted, cookie
    # Plain http at the proxy is only a redirect to https, so the cookie never travels in the clear.
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://127.0.0.1/")


@needs_caddy
async def test_caddy_replaces_a_clients_forwarded_proto(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """A client claiming https over plain http does not get a Secure cookie: Caddy sets X-Forwarded-Proto itself."""
    server = ServerProcess(
        server_env(fake_openai, tmp_path / "anon.db", PERSISTREAM_AUTH="anonymous"), log_path=tmp_path / "anon.log"
    ).start()
    process, front = _caddy_front([server], tmp_path)
    try:
        spoofed = {"X-Forwarded-Proto": "https"}
        # Two clients: a cookie jar ignores ports, so one client would send the first cookie back to the second.
        async with httpx.AsyncClient(timeout=30) as client:
            page = await client.get(front.http_url.removesuffix("/graphql") + "/", headers=spoofed)
        async with httpx.AsyncClient(timeout=30) as client:
            direct = await client.get(server.url + "/", headers=spoofed)
    finally:
        process.stop()
        server.stop()
    assert page.status_code == 200 and "Secure" not in page.headers["set-cookie"], page.headers
    # The check can fail: the same spoofed header sent straight to uvicorn from 127.0.0.1 is believed.
    assert "Secure" in direct.headers["set-cookie"]


def _accepted_sockets(server: ServerProcess) -> int:
    return server.log().count('"WebSocket /graphql" [accepted]')


@needs_nginx
async def test_rolling_restart_behind_nginx_moves_an_observer_to_another_process(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str, tmp_path: Path
) -> None:
    """SIGTERM to the process an observer reached through nginx: its socket closes with 1012, and the same URL
    reconnects it, through nginx, to the other process, where it resumes from its offset to the whole answer."""
    generating, stopping = make_scale_servers(2, pg_url(pg_database))
    assert stopping.process is not None
    process, front, _ = _nginx_front([generating, stopping], tmp_path)
    try:
        tokens = sentence_tokens(50)
        expected = "".join(tokens)
        stream_id, _ = await new_stream(generating, fake_openai, Script(tokens, delay=0.05))  # about 2.5 s
        driver = Sub(generating, stream_id, driver=True)
        await driver.until_text(10)

        # Round robin alternates: connect until the socket is on the process that will stop.
        for _ in range(4):
            before = (_accepted_sockets(generating), _accepted_sockets(stopping))
            ws = await GraphQLWS(front.ws_url, ssl=front.tls, origin=front.origin).__aenter__()
            await wait_until(lambda b=before: (_accepted_sockets(generating), _accepted_sockets(stopping)) != b, 5)
            if _accepted_sockets(stopping) > before[1]:
                break
            await ws.__aexit__(None, None, None)
        else:
            raise AssertionError("nginx never sent a WebSocket to the second process")
        held: list[dict[str, Any]] = []
        try:
            async for data in ws.subscribe(STREAM_BODY, {"id": stream_id, "from": 0}):
                held.append(data["streamBody"])
                if len("".join(e["delta"] for e in held)) >= 20 and stopping.process.poll() is None:
                    stopping.process.send_signal(signal.SIGTERM)
            raise AssertionError("the stopping process let its observer run to the end")
        except ConnectionError:
            assert ws.ws.close_code == 1012, ws.ws.close_code
        finally:
            await ws.__aexit__(None, None, None)
        offset = held[-1]["offset"] if held else 0

        async with GraphQLWS(front.ws_url, ssl=front.tls, origin=front.origin) as again:
            resumed = [e["streamBody"] async for e in again.subscribe(STREAM_BODY, {"id": stream_id, "from": offset})]
        await driver.wait()
    finally:
        process.stop()
    # What the closed socket held is a prefix (no final event: it was cut off), the resumed part the rest.
    held_text = "".join(e["delta"] for e in held)
    assert held and held[-1]["status"] == "STREAMING" and held[-1]["offset"] == len(held_text)
    assert held_text + check_events(resumed, offset) == expected
    assert resumed[-1]["status"] == "DONE" and driver.error is None
    assert await asyncio.to_thread(stopping.process.wait, 20) == 0
