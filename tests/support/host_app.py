"""A host app of its own (FastAPI or Starlette) with persistream mounted under a path, served by uvicorn as its
deployment would be (not by `persistream serve`): the ServerProcess URLs then point under the prefix."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_BODY, STREAM_CHAT, GraphQLWS, check_events, collect
from tests.support.http_stream import run_http
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import Tap, start_stream

# What the docs tell a host to give uvicorn: the WebSocket protocol whose close at shutdown waits for the answers.
DRAINING_WS = "persistream.web.shutdown:DrainingWebSockets"
EXAMPLES = ROOT / "examples"
ANSWER = ["Mounted", " answers", " stream", " the", " same", " way."]


class HostAppProcess(ServerProcess):
    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        app: str,
        app_dir: Path,
        prefix: str = "/chat",
        extra: tuple[str, ...] = (),
        ready_path: str = "/healthz",
    ) -> None:
        super().__init__(env, log_path=log_path, command=(sys.executable, "-m", "uvicorn"))
        self.app = app
        self.app_dir = app_dir
        self.prefix = prefix
        self.extra = list(extra)
        self.ready_path = ready_path  # under the prefix: what answers 200 once the app is up

    def arguments(self) -> list[str]:
        return [
            self.app,
            "--app-dir",
            str(self.app_dir),
            "--port",
            str(self.port),
            "--ws",
            DRAINING_WS,
            "--log-level",
            "info",
            *self.extra,
        ]

    @property
    def chat_url(self) -> str:
        """Where persistream is: the page is at `chat_url + "/"`."""
        return f"{self.url}{self.prefix}"

    @property
    def health_url(self) -> str:
        return f"{self.chat_url}{self.ready_path}"

    @property
    def graphql_http(self) -> str:
        return f"{self.chat_url}/graphql"

    @property
    def graphql_ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.prefix}/graphql"


def fastapi_example(env: dict[str, str], directory: Path) -> HostAppProcess:
    """examples/fastapi_mount.py served from `directory` (its log there): persistream under /chat."""
    return HostAppProcess(env, log_path=directory / "host.log", app="fastapi_mount:app", app_dir=EXAMPLES).start()


async def streams_over_every_transport(host: HostAppProcess, fake: FakeOpenAI) -> None:
    """Answers under the host's prefix stream over both WebSocket protocols (one driving, one watching), SSE
    (driving) and multipart (watching), each to the whole answer."""
    stream_id, _ = await start_stream(host, fake, Script(ANSWER, delay=0.02))
    async with GraphQLWS(host.graphql_ws) as modern, GraphQLWS(host.graphql_ws, legacy=True) as legacy:
        observer = Tap.observer(legacy, stream_id)
        driven = await collect(modern.subscribe(STREAM_CHAT, {"id": stream_id}), "streamChat")
        watched = await observer.result(timeout=20)
    assert driven[-1]["status"] == watched[-1]["status"] == "DONE"
    assert check_events(driven) == check_events(watched) == "".join(ANSWER)

    stream_id, _ = await start_stream(host, fake, Script(ANSWER, delay=0.02))
    sse = await run_http(host.graphql_http, STREAM_CHAT, {"id": stream_id})
    multipart = await run_http(host.graphql_http, STREAM_BODY, {"id": stream_id, "from": 0}, multipart=True)
    assert sse.status == multipart.status == 200
    assert check_events(sse.events("streamChat")) == "".join(ANSWER)
    assert check_events(multipart.events("streamBody")) == "".join(ANSWER)
