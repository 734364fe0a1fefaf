"""persistream mounted under a path of another app (contract: "Inside your own app"), served by the host's own
uvicorn: the FastAPI example of the docs under /chat, a Starlette app of the test's under /tools/chat (two mounts
deep), and persistream behind a proxy's prefix (uvicorn --root-path). Everything answers under the prefix, over
every transport; the host's own routes answer as before; startup and shutdown run from the host's lifespan."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_CHAT, GraphQLWS, check_events, collect
from tests.support.host_app import ANSWER, HostAppProcess, fastapi_example, streams_over_every_transport
from tests.support.server import ROOT
from tests.support.streams import Tap, start_stream, wait_until

SHARE = """mutation($thread: ID!) { shareThread(threadId: $thread) { url token } }"""
MESSAGES = """query($thread: ID!) { messages(threadId: $thread, last: 10) { id prompt } }"""

# A Starlette host written as a user would: its lifespan passes persistream's state on with its own.
STARLETTE_HOST = """
import contextlib

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import persistream.web
from persistream.config import Settings

chat = persistream.web.create_app(Settings.from_env())


@contextlib.asynccontextmanager
async def lifespan(_app):
    async with persistream.web.lifespan(chat) as state:
        yield {**state, "greeting": "hello from the host"}


async def home(request):
    return PlainTextResponse(request.state.greeting)


app = Starlette(routes=[Route("/", home), Mount("/tools", routes=[Mount("/chat", chat)])], lifespan=lifespan)
"""


def fastapi_host(fake: FakeOpenAI, directory: Path, **env: str) -> HostAppProcess:
    return fastapi_example(server_env(fake, directory / "persistream.db", **env), directory)


@pytest.fixture(scope="module")
def host(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[HostAppProcess]:
    # The host's own names are on the Host allow-list beside the loopback ones a test connects with.
    process = fastapi_host(fake_openai, module_tmp, PERSISTREAM_ALLOWED_HOSTS="127.0.0.1,chat.example.test")
    yield process
    process.stop()


def test_the_host_routes_answer_as_before_and_persistream_only_under_its_prefix(host: HostAppProcess) -> None:
    assert httpx.get(f"{host.url}/", timeout=10).json() == {"app": "mine", "chat": "/chat/"}
    # FastAPI's own schema lists the host's routes, not the mounted app's.
    assert list(httpx.get(f"{host.url}/openapi.json", timeout=10).json()["paths"]) == ["/"]
    for path in ("/healthz", "/metrics", "/graphql", "/static/js/api.js"):
        assert httpx.get(f"{host.url}{path}", timeout=10).status_code == 404, path
    redirect = httpx.get(host.chat_url, timeout=10)
    assert redirect.status_code == 307 and redirect.headers["location"] == f"{host.chat_url}/"

    page = httpx.get(f"{host.chat_url}/", timeout=10)
    assert page.status_code == 200
    assert 'src="/chat/static/js/app.js"' in page.text and 'href="/chat/graphql"' in page.text
    assert '"/static/' not in page.text
    # The page's own policy, not GraphiQL's looser one.
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert httpx.get(f"{host.chat_url}/static/js/api.js", timeout=10).status_code == 200
    graphiql = httpx.get(host.graphql_http, headers={"accept": "text/html"}, timeout=10)
    assert graphiql.status_code == 200 and 'src="/chat/static/vendor/graphiql/graphiql.min.js"' in graphiql.text


def test_health_and_metrics_under_the_prefix(host: HostAppProcess) -> None:
    # The lifespan ran: the database is there and the hub connected.
    health = httpx.get(host.health_url, timeout=10)
    assert health.status_code == 200
    assert health.json()["database"] == "ok" and health.json()["broadcast"] == "up"
    metrics = httpx.get(f"{host.chat_url}/metrics", timeout=10)
    assert metrics.status_code == 200 and "persistream_broadcast_up 1.0" in metrics.text


def test_the_host_allow_list_takes_the_host_names_and_guards_only_persistream(host: HostAppProcess) -> None:
    named = httpx.get(host.health_url, headers={"host": "chat.example.test:8443"}, timeout=10)
    assert named.status_code == 200
    refused = httpx.get(host.health_url, headers={"host": "rebound.example"}, timeout=10)
    assert refused.status_code == 400
    # The host's own route is the host's business.
    assert httpx.get(f"{host.url}/", headers={"host": "rebound.example"}, timeout=10).status_code == 200


async def test_both_websocket_protocols_sse_and_multipart_under_the_prefix(
    host: HostAppProcess, fake_openai: FakeOpenAI
) -> None:
    await streams_over_every_transport(host, fake_openai)


async def test_a_starlette_host_two_mounts_deep_with_anonymous_identities(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "starlette_host.py").write_text(STARLETTE_HOST, encoding="utf-8")
    host = HostAppProcess(
        server_env(fake_openai, tmp_path / "persistream.db", PERSISTREAM_AUTH="anonymous"),
        log_path=tmp_path / "host.log",
        app="starlette_host:app",
        app_dir=tmp_path,
        prefix="/tools/chat",
    ).start()
    try:
        async with httpx.AsyncClient(timeout=10) as browser:
            home = await browser.get(f"{host.url}/")
            assert home.text == "hello from the host" and "set-cookie" not in home.headers
            page = await browser.get(f"{host.chat_url}/")
            assert 'src="/tools/chat/static/js/app.js"' in page.text
            # The identity cookie is this app's: sent to the mounted paths only.
            assert "Path=/tools/chat;" in page.headers["set-cookie"]
            cookie = f"persistream_id={browser.cookies['persistream_id']}"

            marker = fake_openai.add("starlette-host", Script(ANSWER))
            sent = await browser.post(
                host.graphql_http,
                json={
                    "query": "mutation($p: String!) { sendMessage(prompt: $p) { threadId responseStreamId } }",
                    "variables": {"p": f"Hello {marker}"},
                },
            )
            message = sent.json()["data"]["sendMessage"]
            shared = await browser.post(
                host.graphql_http, json={"query": SHARE, "variables": {"thread": message["threadId"]}}
            )
            share = shared.json()["data"]["shareThread"]
            assert share["url"] == f"/tools/chat/?share={share['token']}"
            mine = await browser.post(
                host.graphql_http, json={"query": MESSAGES, "variables": {"thread": message["threadId"]}}
            )
            assert len(mine.json()["data"]["messages"]) == 1

        # The cookie makes the WebSocket the same identity: it may drive its own answer.
        async with GraphQLWS(host.graphql_ws, additional_headers={"cookie": cookie}) as socket:
            events = await collect(socket.subscribe(STREAM_CHAT, {"id": message["responseStreamId"]}), "streamChat")
        assert events[-1]["status"] == "DONE" and check_events(events) == "".join(ANSWER)
    finally:
        host.stop()


async def test_behind_a_proxy_that_sets_root_path(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """A proxy that strips /assistant and says so (uvicorn --root-path): the page, links and cookie carry it. (The
    test plays the proxy: it sends the stripped paths, and the cookie the browser would send under /assistant.)"""
    server = HostAppProcess(
        server_env(fake_openai, tmp_path / "persistream.db", PERSISTREAM_AUTH="anonymous"),
        log_path=tmp_path / "server.log",
        app="persistream.web.asgi:create_app_from_env",
        app_dir=ROOT,
        prefix="",
        extra=("--factory", "--root-path", "/assistant"),
    ).start()
    try:
        async with httpx.AsyncClient(timeout=10) as proxy:
            page = await proxy.get(f"{server.url}/")
            assert 'src="/assistant/static/js/app.js"' in page.text and 'href="/assistant/graphql"' in page.text
            assert "Path=/assistant;" in page.headers["set-cookie"]
            cookie = {"cookie": f"persistream_id={page.cookies['persistream_id']}"}
            marker = fake_openai.add("proxied", Script(ANSWER))
            send = "mutation($p: String!) { sendMessage(prompt: $p) { threadId } }"
            sent = await proxy.post(
                server.graphql_http, json={"query": send, "variables": {"p": f"Hi {marker}"}}, headers=cookie
            )
            thread = sent.json()["data"]["sendMessage"]["threadId"]
            shared = await proxy.post(
                server.graphql_http, json={"query": SHARE, "variables": {"thread": thread}}, headers=cookie
            )
            share = shared.json()["data"]["shareThread"]
            assert share["url"] == f"/assistant/?share={share['token']}", shared.json()
    finally:
        server.stop()


async def test_a_stopping_host_lets_the_answer_finish_and_closes_sockets_after_it(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """The example's lifespan does not pass persistream's state on: the WebSocket closes still find the drain."""
    host = fastapi_host(fake_openai, tmp_path, PERSISTREAM_SHUTDOWN_GRACE="30")
    assert host.process is not None
    tokens = [f" t{i}." for i in range(40)]  # about 2 s
    stream_id, _ = await start_stream(host, fake_openai, Script(tokens, delay=0.05))
    try:
        async with GraphQLWS(host.graphql_ws) as client, GraphQLWS(host.graphql_ws) as idle:
            driver = Tap.driver(client, stream_id)
            await driver.until_text(10)
            host.process.send_signal(signal.SIGINT)
            await wait_until(lambda: idle.ws.close_code is not None, timeout=5)
            assert idle.ws.close_code == 1012
            assert not driver.finished
            events = await driver.result(timeout=20)
            await wait_until(lambda: client.ws.close_code is not None, timeout=10)
            assert client.ws.close_code == 1012
        await asyncio.to_thread(host.process.wait, 20)
    finally:
        host.stop()
    assert events[-1]["status"] == "DONE" and check_events(events) == "".join(tokens)


FORGETFUL_HOST = """
from fastapi import FastAPI

import persistream.web
from persistream.config import Settings

app = FastAPI()
app.mount("/chat", persistream.web.create_app(Settings.from_env()))
"""


async def test_a_host_that_forgets_the_lifespan_is_told(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """No database error and no half-working API: a 503 on what needs the services, and the log says what to do."""
    (tmp_path / "forgetful_host.py").write_text(FORGETFUL_HOST, encoding="utf-8")
    host = HostAppProcess(
        server_env(fake_openai, tmp_path / "persistream.db"),
        log_path=tmp_path / "host.log",
        app="forgetful_host:app",
        app_dir=tmp_path,
        ready_path="/static/css/chat.css",  # it never becomes healthy: a file says it is up
    ).start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            health = await client.get(f"{host.chat_url}/healthz")
            assert health.status_code == 503
            assert health.json()["errors"][0]["message"] == "persistream has not started (the server log says why)."
            sent = await client.post(host.graphql_http, json={"query": "{ viewer { id } }"})
            assert sent.status_code == 503
            assert sent.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
            # GraphiQL's page is only a file: it loads.
            assert (await client.get(host.graphql_http, headers={"accept": "text/html"})).status_code == 200
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(host.graphql_ws, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 503
    finally:
        host.stop()
    log = host.log()
    assert log.count("must enter persistream.web.lifespan(app) in its own lifespan") == 1, log
    assert "no such table" not in log and "Traceback" not in log
