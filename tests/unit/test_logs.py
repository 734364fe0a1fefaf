"""The JSON log line: the contract's keys, the stream and thread from context variables (inherited by the tasks a
stream's work starts), redaction, and one line instead of a traceback."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from persistream.logs import JsonFormatter, bind_stream, log_config


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("persistream.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield out
    logger.removeHandler(handler)


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_has_the_contracts_keys(lines: io.StringIO) -> None:
    logging.getLogger("persistream.test").info("hello %s", "world")
    (line,) = parsed(lines)
    assert list(line)[:4] == ["ts", "level", "logger", "message"]
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "persistream.test", "hello world")
    assert datetime.fromisoformat(line["ts"]).utcoffset() is not None
    assert "stream_id" not in line


async def test_the_stream_travels_to_the_tasks_it_starts_and_no_further(lines: io.StringIO) -> None:
    log = logging.getLogger("persistream.test")

    async def generation() -> None:
        log.info("in the generation task")

    async def subscription() -> None:
        bind_stream("s-1", "t-1")
        await asyncio.create_task(generation())
        log.info("in the subscription")

    await asyncio.create_task(subscription())
    log.info("elsewhere")
    first, second, third = parsed(lines)
    assert (first["stream_id"], first["thread_id"]) == ("s-1", "t-1")
    assert (second["stream_id"], second["thread_id"]) == ("s-1", "t-1")
    assert "stream_id" not in third and "thread_id" not in third


def test_no_secret_and_no_traceback(lines: io.StringIO) -> None:
    log = logging.getLogger("persistream.test")
    try:
        raise RuntimeError("connect failed for redis://:hunter2@cache:6379")
    except RuntimeError:
        log.exception("model key sk-live-0123456789abcdef refused")
    (line,) = parsed(lines)
    text = lines.getvalue()
    assert "hunter2" not in text and "sk-live-0123456789abcdef" not in text
    assert "Traceback" not in text and "\n" not in text.strip()
    assert line["error"].startswith("RuntimeError at test_logs.py:")


def test_json_config_formats_every_handler_uvicorns_included() -> None:
    config = log_config("json", "info")
    assert {h["formatter"] for h in config["handlers"].values()} == {"json"}
    assert config["handlers"]["access"]["filters"] == ["access_redaction"]
    text = log_config("text", "info")
    assert text["handlers"]["persistream"]["formatter"] == "persistream"
