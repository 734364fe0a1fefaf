"""The Python client's parts without a server: events and bodies parse their parts, cursor and usage (an unknown kind
passes through), deltas assemble into parts, `follow()` resumes from the cursor it holds (from its offset before it
holds one, never re-driving once it has seen anything), and `ask --reasoning` puts each part where it belongs."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from persistream import client as client_module
from persistream import client_types
from persistream.ask import _Narrator
from persistream.client import (
    Part,
    PartDelta,
    PartsAssembler,
    PersistreamClient,
    StreamEvent,
    Usage,
)


def delta(index: int, kind: str, text: str, name: str | None = None, call: str | None = None) -> dict[str, Any]:
    return {"index": index, "kind": kind, "delta": text, "toolName": name, "toolCallId": call, "isError": False}


def event(text: str, offset: int, status: str = "STREAMING", **more: Any) -> dict[str, Any]:
    return {"streamId": "s", "delta": text, "offset": offset, "status": status, "error": None, **more}


def test_an_event_parses_its_parts_cursor_and_usage() -> None:
    data = event(
        "Hi",
        2,
        "DONE",
        parts=[delta(0, "REASONING", "hm"), delta(1, "TEXT", "Hi"), delta(2, "CITATION", "[1]")],
        cursor="c2",
        usage={"inputTokens": 3, "outputTokens": 5, "reasoningTokens": None},
    )
    parsed = client_types.event_from(data)
    assert parsed.parts == (
        PartDelta(0, "REASONING", "hm"),
        PartDelta(1, "TEXT", "Hi"),
        PartDelta(2, "CITATION", "[1]"),  # a kind a newer server adds is kept, as its string
    )
    assert (parsed.cursor, parsed.usage, parsed.final) == ("c2", Usage(3, 5, None), True)


def test_a_text_only_event_is_what_it_was() -> None:
    parsed = client_types.event_from(event("Hi", 2, parts=[], cursor="c", usage=None))
    assert (parsed.delta, parsed.offset, parsed.status, parsed.error) == ("Hi", 2, "STREAMING", None)
    assert (parsed.parts, parsed.usage) == ((), None)
    assert StreamEvent("s", "x", 1, "DONE", None).parts == ()  # made by hand, as before parts existed


def test_a_body_parses_its_parts() -> None:
    data = {
        "streamId": "s",
        "text": "5",
        "offset": 1,
        "status": "DONE",
        "error": None,
        "parts": [
            {"index": 0, "kind": "TOOL_CALL", "text": "{}", "toolName": "t", "toolCallId": "c1", "isError": False},
            {"index": 1, "kind": "TOOL_RESULT", "text": "no", "toolName": "t", "toolCallId": "c1", "isError": True},
            {"index": 2, "kind": "TEXT", "text": "5", "toolName": None, "toolCallId": None, "isError": False},
        ],
        "cursor": "end",
        "usage": None,
    }
    body = client_types.body_from(data)
    assert body.parts == (
        Part(0, "TOOL_CALL", "{}", "t", "c1"),
        Part(1, "TOOL_RESULT", "no", "t", "c1", is_error=True),
        Part(2, "TEXT", "5"),
    )
    assert (body.text, body.cursor, body.usage) == ("5", "end", None)


def test_deltas_assemble_into_parts() -> None:
    assembler = PartsAssembler([Part(0, "REASONING", "Let")])
    assembler.add([PartDelta(0, "REASONING", " me"), PartDelta(1, "TOOL_CALL", "", "add", "c1")])
    assembler.add([PartDelta(1, "TOOL_CALL", '{"a": 1}', "add", "c1")])
    assembler.add([])
    assert assembler.parts == (Part(0, "REASONING", "Let me"), Part(1, "TOOL_CALL", '{"a": 1}', "add", "c1"))


Subscribed = list[tuple[str, dict[str, Any]]]


def scripted(connections: list[list[dict[str, Any]]], seen: Subscribed) -> Any:
    """A `_subscribe` that gives each connection its events, then drops it (except after a final event)."""

    async def subscribe(query: str, variables: dict[str, Any]) -> AsyncGenerator[StreamEvent, None]:
        seen.append((query, dict(variables)))
        for data in connections.pop(0):
            yield client_types.event_from(data)
        raise client_module._Dropped

    return subscribe


async def follow(connections: list[list[dict[str, Any]]], **options: Any) -> tuple[list[StreamEvent], Subscribed]:
    seen: Subscribed = []
    async with PersistreamClient("http://127.0.0.1:9/graphql", backoff=0.001) as client:
        client._subscribe = scripted(connections, seen)  # type: ignore[method-assign]
        events = [e async for e in client.follow("s", **options)]
    return events, seen


async def test_a_driver_resumes_from_its_cursor_even_before_any_text() -> None:
    connections = [
        [],  # dropped before the claim: drive again
        [event("", 0, parts=[delta(0, "REASONING", "Hm")], cursor="r1")],
        [event("", 0, parts=[delta(0, "REASONING", "m.")], cursor="r2"), event("A", 1, cursor="t1")],
        [event("", 1, "DONE", cursor="t1")],
    ]
    events, seen = await follow(connections, drive=True)
    assert [("streamChat" in q, v.get("cursor"), v.get("from")) for q, v in seen] == [
        (True, None, None),
        (True, None, None),
        (False, "r1", 0),  # reasoning seen, no text yet: the cursor, not streamChat again
        (False, "t1", 1),
    ]
    assert [e.cursor for e in events] == ["r1", "r2", "t1", "t1"]


async def test_an_observer_without_a_cursor_resumes_from_its_offset() -> None:
    connections = [[event("", 4, "DONE", cursor="x")]]
    _, seen = await follow(connections, from_offset=4)
    assert [(("streamChat" in q), v) for q, v in seen] == [(False, {"id": "s", "from": 4, "cursor": None})]
    connections = [[event("", 4, cursor=None)], [event("", 4, "DONE", cursor="y")]]
    _, seen = await follow(connections, from_cursor="given")
    assert [v["cursor"] for _, v in seen] == ["given", "given"]  # an event without a cursor keeps the one held


def narrate(*batches: list[PartDelta]) -> str:
    err = io.StringIO()
    narrator = _Narrator(err)
    for batch in batches:
        narrator.add(batch)
    narrator.close()
    return err.getvalue()


def test_ask_narrates_reasoning_as_it_streams_and_tools_one_line_each() -> None:
    told = narrate(
        [PartDelta(0, "REASONING", "Let me"), PartDelta(0, "REASONING", " think.")],
        [PartDelta(1, "TOOL_CALL", '{"a":', "add", "c1")],
        [PartDelta(1, "TOOL_CALL", " 2}", "add", "c1")],
        [PartDelta(2, "TOOL_RESULT", "line1\nline2\x1b[2J", "add", "c1")],
        [PartDelta(3, "TEXT", "The answer")],
        [PartDelta(4, "TOOL_RESULT", "boom", "slow", "c2", is_error=True), PartDelta(5, "NEW_KIND", "new")],
    )
    assert told == (
        "reasoning: Let me think.\n"
        'tool call add: {"a": 2}\n'
        "tool result add: line1\\nline2\\x1b[2J\n"  # one line, and nothing a terminal would act on
        "tool error slow: boom\n"
        "new kind: new\n"
    )


@pytest.mark.parametrize("kinds", [["TEXT"], []])
def test_ask_narrates_nothing_for_text(kinds: list[str]) -> None:
    assert narrate([PartDelta(0, kind, "x") for kind in kinds]) == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_part_after_text_starts_a_new_line() -> None:
    err = Terminal()
    narrator = _Narrator(err)
    narrator.add([PartDelta(0, "TEXT", "Checking."), PartDelta(1, "TOOL_CALL", "{}", "clock", "c")])
    narrator.add([PartDelta(2, "TOOL_RESULT", "noon", "clock", "c"), PartDelta(3, "TEXT", "Noon.")])
    narrator.close()
    assert err.getvalue() == "\ntool call clock: {}\ntool result clock: noon\n"
