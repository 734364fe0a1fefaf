"""What the engine takes as a source: a wrong one is a TypeError at the call (nothing claimed); what a source does
wrong once it runs ends its answer in ERROR with a message that says what, and the silence message names the source
as the caller said (never "the model" for a source that is not one)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from persistream.core import ModelError, StreamEngine, StreamEvent, StreamStatus


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[StreamEngine]:
    async with StreamEngine.from_urls(
        f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", flush_ms=50, stream_timeout=0.3
    ) as started:
        yield started


async def words() -> AsyncIterator[str]:
    yield "one "
    yield "two"


def sync_words() -> Iterator[str]:
    yield "one "


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


WRONG_SOURCES: list[tuple[str, Any, str]] = [
    ("an async iterator instead of its factory", words(), "not async_generator"),
    ("a synchronous generator function", sync_words, "sync_words is a synchronous generator function"),
    ("a synchronous iterator", iter(["one"]), "not list_iterator"),
    ("a string", "hello", "not str"),
    ("nothing", None, "not NoneType"),
]


@pytest.mark.parametrize(("what", "source", "said"), WRONG_SOURCES, ids=[w for w, _, _ in WRONG_SOURCES])
async def test_a_wrong_source_is_a_type_error_at_the_call(
    engine: StreamEngine, what: str, source: Any, said: str
) -> None:
    stream_id = await engine.create_stream()
    with pytest.raises(TypeError, match=said):
        engine.drive(stream_id, source)  # not iterated: the call itself refuses
    with pytest.raises(TypeError, match=said):
        await engine.start_generation(stream_id, source)
    assert (await engine.body(stream_id)).status is StreamStatus.PENDING, "a wrong source claimed the stream"
    # The stream is still there to be answered by a right one.
    events = await collect(engine.drive(stream_id, words))
    assert (events[-1].status, "".join(e.delta for e in events)) == (StreamStatus.DONE, "one two")
    if hasattr(source, "aclose"):
        await source.aclose()


async def test_a_factory_returning_a_synchronous_iterator_ends_in_error_naming_it(engine: StreamEngine) -> None:
    stream_id = await engine.create_stream()
    events = await collect(engine.drive(stream_id, lambda: sync_words()))  # type: ignore[arg-type,return-value]
    assert events[-1].status is StreamStatus.ERROR
    assert events[-1].error == "The answer failed: the source returned generator, not an async iterator."


async def test_model_error_shows_its_message_any_other_error_a_generic_one(
    engine: StreamEngine, caplog: pytest.LogCaptureFixture
) -> None:
    async def refusing() -> AsyncIterator[str]:
        yield "Partly "
        raise ModelError("The weather service is down.", detail="upstream 503 from weather.internal")

    async def crashing() -> AsyncIterator[str]:
        yield "Partly "
        raise KeyError("customer-42-secret")

    caplog.set_level(logging.INFO)
    public = await engine.create_stream()
    ended = (await collect(engine.drive(public, refusing)))[-1]
    assert (ended.status, ended.error) == (StreamStatus.ERROR, "The weather service is down.")
    generic = await engine.create_stream()
    ended = (await collect(engine.drive(generic, crashing)))[-1]
    assert (ended.status, ended.error) == (StreamStatus.ERROR, "The answer failed because of an unexpected error.")
    body = await engine.body(generic)
    assert (body.text, body.error) == ("Partly ", ended.error)
    # The log says what happened, on one line each, with no traceback.
    assert "upstream 503 from weather.internal" in caplog.text
    assert "KeyError" in caplog.text
    assert not any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize("wrong", [42, b"bytes", {"text": "hi"}, None])
async def test_a_source_yielding_a_wrong_type_ends_in_error_naming_the_type(engine: StreamEngine, wrong: Any) -> None:
    async def odd() -> AsyncIterator[Any]:
        yield "fine "
        yield wrong

    stream_id = await engine.create_stream()
    ended = (await collect(engine.drive(stream_id, odd)))[-1]
    assert ended.status is StreamStatus.ERROR
    assert ended.error == f"The answer failed: the generator yielded {type(wrong).__name__}, not text or a part."
    assert (await engine.body(stream_id)).text == "fine "


async def test_the_silence_message_names_the_source_as_the_caller_says(engine: StreamEngine) -> None:
    async def silent() -> AsyncIterator[str]:
        yield "a start "
        await asyncio.sleep(30)
        yield "never"

    plain = await engine.create_stream()
    ended = (await collect(engine.drive(plain, silent)))[-1]
    assert (ended.status, ended.error) == (StreamStatus.TIMEOUT, "The source sent nothing for 0.3 seconds.")
    named = await engine.create_stream()
    ended = (await collect(engine.drive(named, silent, speaker="generator")))[-1]
    assert ended.error == "The generator sent nothing for 0.3 seconds."
