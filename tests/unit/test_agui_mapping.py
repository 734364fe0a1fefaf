"""The AG-UI event mapping (persistream/web/agui/mapping.py), pure: the events each kind of part becomes, and the
rejoin rule: whatever chunks the log came in, and wherever a reader was cut, the events after its last key are
exactly the rest, nothing twice and nothing missing."""

from __future__ import annotations

import os
import random

import pytest

from persistream.engine.cursor import Position
from persistream.engine.events import PartDelta, PartHead, StreamEvent, StreamStatus
from persistream.errors import BadInput
from persistream.parts import PartKind, Usage
from persistream.web.agui.ids import event_id, parse_event_id, thread_key
from persistream.web.agui.mapping import Keyed, RunMapper, after

RUN = "7b3e868e-d8e1-48f3-a29f-5f30476e85df"
PARTS = [
    (PartHead(PartKind.REASONING), "Let me add 2 and 3."),
    (PartHead(PartKind.TOOL_CALL, "add", "call_1"), '{"a": 2, "b": 3}'),
    (PartHead(PartKind.TOOL_RESULT, "add", "call_1"), "5"),
    (PartHead(PartKind.TEXT), "The sum is 5. ✓ 🎉"),
]


def chunked(rng: random.Random, status: StreamStatus = StreamStatus.DONE) -> list[StreamEvent]:
    """The answer PARTS as stream events cut at random places (several parts in one event sometimes)."""
    pieces: list[PartDelta] = []
    for index, (head, text) in enumerate(PARTS):
        cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 4))))
        for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
            pieces.append(PartDelta(index, head, text[a:b]))
    events, offset = [], 0
    while pieces:
        take = pieces[: rng.randint(1, 3)]
        pieces = pieces[len(take) :]
        offset += sum(len(p.delta) for p in take if p.head.kind is PartKind.TEXT)
        last = take[-1]
        position = Position(last.index, 0)  # not read by the mapper
        events.append(StreamEvent(RUN, "", offset, StreamStatus.STREAMING, parts=tuple(take), position=position))
    events.append(StreamEvent(RUN, "", offset, status, usage=Usage(10, 20, 5)))
    return events


def mapped(events: list[StreamEvent]) -> list[Keyed]:
    mapper = RunMapper("thread-1", RUN)
    out = mapper.start()
    for event in events:
        out.extend(mapper.feed(event))
    return out


def merged(keyed: list[Keyed]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for k in keyed:
        event = k.event.model_dump(by_alias=True, exclude_none=True)
        if out and "delta" in event and out[-1]["type"] == event["type"]:
            out[-1]["delta"] = str(out[-1]["delta"]) + str(event["delta"])
        else:
            out.append(event)
    return out


def test_each_kind_of_part_becomes_its_events() -> None:
    events = merged(mapped(chunked(random.Random(1))))
    assert [e["type"] for e in events] == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert events[3]["delta"] == PARTS[0][1]
    assert events[6] == {"type": "TOOL_CALL_START", "toolCallId": "call_1", "toolCallName": "add"}
    assert events[7]["delta"] == PARTS[1][1]
    assert events[9]["content"] == "5" and events[9]["toolCallId"] == "call_1"
    assert events[11]["delta"] == PARTS[3][1]
    assert events[-1]["usage"] == [{"inputTokens": 10, "outputTokens": 20, "totalTokens": 30, "reasoningTokens": 5}]
    assert events[0]["runId"] == events[-1]["runId"] == RUN


def test_final_statuses() -> None:
    cancelled = merged(mapped(chunked(random.Random(2), StreamStatus.CANCELLED)))[-1]
    assert cancelled["type"] == "RUN_FINISHED" and cancelled["outcome"] == {"type": "cancelled"}
    for status in (StreamStatus.ERROR, StreamStatus.TIMEOUT):
        last = merged(mapped(chunked(random.Random(3), status)))
        assert last[-1]["type"] == "RUN_ERROR" and last[-1]["code"] == status.value
        assert last[-2]["type"] == "TEXT_MESSAGE_END"  # the open message is closed first


def test_keys_grow_and_do_not_depend_on_chunking() -> None:
    rng = random.Random(4)
    for _ in range(50):
        keyed = mapped(chunked(rng))
        keys = [k.key for k in keyed]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        # The events that are not content have the same keys however the text was cut.
        assert [k.key for k in keyed if k.start is None] == [k.key for k in mapped(chunked(rng)) if k.start is None]


def test_rejoin_after_any_event_gives_the_rest_once() -> None:
    seed = int(os.environ.get("AGUI_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    for _ in range(200):
        seen = mapped(chunked(rng))  # what the reader got before its connection was cut
        whole = merged(seen)
        cut = rng.randrange(len(seen))
        replay = mapped(chunked(rng))  # the log read again, in other chunks
        rest = list(after(replay, seen[cut].key))
        assert merged(seen[: cut + 1] + rest) == whole, f"seed {seed}, cut after event {cut}"


def test_event_ids_round_trip_and_refuse_what_the_server_did_not_send() -> None:
    for keyed in mapped(chunked(random.Random(5))):
        assert parse_event_id(RUN, event_id(RUN, keyed.key)) == keyed.key
    good = event_id(RUN, mapped(chunked(random.Random(5)))[5].key)
    other_run = "00000000-0000-4000-8000-000000000000"
    for bad in ("", "x", good + "0", good.replace(".", ""), good[:-1] + "99", event_id(other_run, mapped([])[0].key)):
        with pytest.raises(BadInput):
            parse_event_id(RUN, bad)


def test_thread_names() -> None:
    assert thread_key(RUN) == RUN and thread_key(RUN.upper()) == RUN
    named = thread_key("my thread")
    assert named == thread_key("my thread") != thread_key("my thread 2")
    assert named[14] == "5"  # a version 5 UUID: never one the server makes
