"""PERSISTREAM_LOG_FORMAT=json: every line the server writes (uvicorn's own included) is one JSON object with
`ts`, `level`, `logger` and `message`; the lines about a stream carry its `stream_id` (and its `thread_id`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.streams import Tap, start_stream


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        line = json.loads(raw)  # a line that is not JSON fails here, and pytest shows it
        assert isinstance(line, dict), raw
        for key in ("ts", "level", "logger", "message"):
            assert isinstance(line.get(key), str), (key, raw)
        assert datetime.fromisoformat(line["ts"]).tzinfo is not None, raw
        lines.append(line)
    return lines


async def test_every_line_is_json_and_stream_lines_carry_the_stream(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_LOG_FORMAT="json")
    tokens = [" one", " two", " three."]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
    async with GraphQLWS(server.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        observer = Tap.observer(client, stream_id)
        assert check_events(await driver.result()) == "".join(tokens)
        assert check_events(await observer.result()) == "".join(tokens)
    failing, _ = await start_stream(server, fake_openai, Script([" partial", " never"], error_after=1))
    async with GraphQLWS(server.graphql_ws) as client:
        events = await Tap.driver(client, failing).result()
    assert events[-1]["status"] == "ERROR"
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.url}/healthz")).status_code == 200
        await http.get(f"{server.url}/?share=not-a-real-token-0123456789")
    assert server.stop() == 0
    lines = json_lines(server.log())
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "uvicorn.access", "persistream.web", "persistream.engine"} <= loggers, loggers
    claimed = [line for line in lines if line["message"] == f"stream {stream_id} claimed"]
    assert len(claimed) == 1 and claimed[0]["level"] == "INFO"
    ended = [line for line in lines if line["message"].startswith(f"stream {stream_id} ended DONE")]
    assert len(ended) == 1 and ended[0]["level"] == "INFO"
    for stream in (stream_id, failing):
        about = [line for line in lines if stream in line["message"]]
        assert len(about) >= 2, lines
        for line in about:
            assert line.get("stream_id") == stream, line
            assert isinstance(line.get("thread_id"), str), line
    model_error = [line for line in lines if line.get("stream_id") == failing and line["level"] == "WARNING"]
    assert model_error, "the model's error is logged with its stream"
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/healthz" in line["message"] for line in access)
    assert not any("not-a-real-token" in line["message"] for line in lines), "a share token reached the log"
    assert "Traceback" not in server.log()


def test_text_logs_stay_the_default(make_server: ServerFactory) -> None:
    server = make_server()
    httpx.get(f"{server.url}/healthz", timeout=10)
    assert server.stop() == 0
    assert "persistream ready" in server.log()
    assert not server.log().lstrip().startswith("{")
