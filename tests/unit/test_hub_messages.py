"""Hub messages on the wire: every kind encodes to exactly the JSON earlier versions sent (processes of several
versions share one broadcast backend during a rolling deploy) and decodes back to the same message; what cannot be
read is dropped, and a kind from a newer version sends its stream's observers to the database."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from persistream.engine.events import StreamStatus
from persistream.engine.hub import MAX_PAYLOAD_BYTES, Hub
from persistream.engine.messages import Cancel, Chunk, Final, HubMessage, Ping, Status, Unknown, decode

STREAM = "123e4567-e89b-12d3-a456-426614174000"


def old_wire(fields: dict[str, Any], *, ascii_only: bool = False) -> str:
    """What earlier versions' `Hub.publish` sent for the dict `fields`."""
    return json.dumps(fields, ensure_ascii=ascii_only, separators=(",", ":"))


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        (Chunk(STREAM, 3, 17, "héllo 😀\n"), {"k": "c", "s": STREAM, "q": 3, "e": 17, "d": "héllo 😀\n"}),
        (Chunk(STREAM, 4, 9000, None), {"k": "c", "s": STREAM, "q": 4, "e": 9000}),
        (Status(STREAM, StreamStatus.STREAMING), {"k": "s", "s": STREAM, "st": "STREAMING"}),
        (Final(STREAM, StreamStatus.DONE), {"k": "f", "s": STREAM, "st": "DONE"}),
        (Final(STREAM, StreamStatus.TIMEOUT), {"k": "f", "s": STREAM, "st": "TIMEOUT"}),
        (Final(STREAM, StreamStatus.CANCELLED), {"k": "f", "s": STREAM, "st": "CANCELLED"}),
        (Cancel(STREAM), {"k": "x", "s": STREAM}),
        (Ping("0123456789abcdef0123456789abcdef"), {"k": "p", "o": "0123456789abcdef0123456789abcdef"}),
    ],
)
def test_each_kind_is_byte_for_byte_the_old_dict_and_round_trips(message: HubMessage, fields: dict[str, Any]) -> None:
    assert message.encode() == old_wire(fields)
    assert decode(old_wire(fields)) == message
    assert decode(old_wire(fields, ascii_only=True)) == message  # the old text-less chunk and ping were escaped
    assert decode(message.encode()) == message


def test_a_chunk_without_its_text_is_the_old_oversized_form() -> None:
    chunk = Chunk(STREAM, 7, 3000, "€" * 3000)
    assert chunk.without_text() == Chunk(STREAM, 7, 3000, None)
    assert chunk.without_text().encode() == old_wire({"k": "c", "s": STREAM, "q": 7, "e": 3000}, ascii_only=True)


def test_a_null_text_is_a_chunk_to_read_from_the_database() -> None:
    assert decode('{"k":"c","s":"a","q":1,"e":2,"d":null}') == Chunk("a", 1, 2, None)


def test_an_unknown_kind_naming_a_stream_is_kept_for_its_observers() -> None:
    assert decode('{"k":"z","s":"a","new":1}') == Unknown("z", "a")
    assert decode(Unknown("z", "a").encode()) == Unknown("z", "a")


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "",
        "[1, 2]",
        '"c"',
        "{}",
        '{"s":"a"}',
        '{"k":1,"s":"a"}',
        '{"k":"c","s":"a","q":"1","e":2,"d":"x"}',
        '{"k":"c","s":"a","q":1,"d":"x"}',
        '{"k":"c","s":"a","q":1,"e":2,"d":5}',
        '{"k":"c","q":1,"e":2,"d":"x"}',
        '{"k":"s","s":5,"st":"STREAMING"}',
        '{"k":"f","s":"a"}',
        '{"k":"f","s":"a","st":"FINISHED"}',
        '{"k":"f","s":"a","st":[]}',
        '{"k":"x"}',
        '{"k":"p"}',
        '{"k":"p","o":7}',
        '{"k":"z"}',
    ],
)
def test_what_cannot_be_read_decodes_to_none(payload: str) -> None:
    assert decode(payload) is None


async def test_the_hub_delivers_typed_messages_drops_malformed_ones_and_publishes_large_chunks_without_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled: list[str] = []
    hub = Hub("memory://", on_cancel_request=cancelled.append)
    await hub.start()
    try:
        with hub.watch(STREAM) as watcher:
            large = Chunk(STREAM, 2, 9000, "€" * MAX_PAYLOAD_BYTES)
            for message in (Chunk(STREAM, 1, 5, "héllo"), large, Cancel(STREAM), Final(STREAM, StreamStatus.DONE)):
                assert await hub.publish(message)
            with caplog.at_level(logging.WARNING, logger="persistream.hub"):
                hub._dispatch('{"k":"c","s":"' + STREAM + '","q":"x"}')
            received: list[HubMessage] = []
            while len(received) < 3:
                items, _ = await watcher.next(5.0)
                received += items
        assert received == [Chunk(STREAM, 1, 5, "héllo"), large.without_text(), Final(STREAM, StreamStatus.DONE)]
        assert cancelled == [STREAM]
        assert "ignored a malformed broadcast message" in caplog.text
    finally:
        await hub.stop()
