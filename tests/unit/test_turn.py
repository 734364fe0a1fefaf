"""One model turn's deltas made into part events (persistream/llm/turn.py), the cases no server in the tests plays:
a call whose name comes late, a server that goes back to a call after another began, the delta limit."""

from __future__ import annotations

from typing import Any

import pytest

from persistream.llm.base import ModelError
from persistream.llm.turn import Turn
from persistream.parts import PartEvent, ReasoningDelta, ToolCallDelta


def fragment(index: int, arguments: str = "", *, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    call: dict[str, Any] = {"index": index, "function": function}
    if call_id is not None:
        call["id"] = call_id
    return {"tool_calls": [call]}


def play(deltas: list[dict[str, Any]], turn: Turn | None = None) -> tuple[list[PartEvent], list[PartEvent]]:
    """(the events given while reading, the events given at the end)."""
    turn = turn or Turn()
    live: list[PartEvent] = []
    for delta in deltas:
        turn.read(delta, live)
    return live, turn.finish()


def arguments_by_call(events: list[PartEvent]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            joined[event.call_id] = joined.get(event.call_id, "") + event.arguments
    return joined


def test_a_call_waits_for_its_name_then_goes_out_with_all_it_has() -> None:
    live, end = play([fragment(0, '{"a"', call_id="c1"), fragment(0, ": 1}", name="f"), fragment(0, " ")])
    assert live == [ToolCallDelta("c1", "f", '{"a": 1}'), ToolCallDelta("c1", "f", " ")]
    assert end == []


def test_a_call_whose_name_never_comes_is_given_at_the_end() -> None:
    live, end = play([fragment(0, "{}", call_id="c1")])
    assert live == [] and end == [ToolCallDelta("c1", "", "{}")]


def test_a_server_that_goes_back_to_a_finished_call_loses_nothing() -> None:
    deltas = [
        fragment(0, '{"a": 1}', call_id="c1", name="f"),
        fragment(1, '{"b"', call_id="c2", name="g"),  # call 0 was whole JSON: call 1 becomes the live one
        fragment(0, " "),  # ... and yet the server sends more of call 0
        fragment(1, ": 2}"),
    ]
    live, end = play(deltas)
    assert live == [
        ToolCallDelta("c1", "f", '{"a": 1}'),
        ToolCallDelta("c2", "g", '{"b"'),
        ToolCallDelta("c2", "g", ": 2}"),
    ]
    assert end == [ToolCallDelta("c1", "f", " ")]
    assert arguments_by_call(live + end) == {"c1": '{"a": 1} ', "c2": '{"b": 2}'}


def test_reasoning_after_a_call_began_is_held_and_text_before_it_is_not() -> None:
    deltas = [{"reasoning": "hm"}, {"content": "ok"}, fragment(0, "{}", call_id="c1", name="f"), {"reasoning": "more"}]
    live, end = play(deltas)
    assert live == [ReasoningDelta("hm"), "ok", ToolCallDelta("c1", "f", "{}")]
    assert end == [ReasoningDelta("more")]


def test_every_kind_of_delta_counts_toward_the_limit() -> None:
    turn = Turn(max_deltas=2)
    with pytest.raises(ModelError, match="limit of 2 tokens"):
        play([{"reasoning_content": "a"}, fragment(0, "{", call_id="c", name="f"), {"content": "b"}], turn)


def test_empty_deltas_count_for_nothing() -> None:
    live, end = play([{"role": "assistant", "content": ""}, {"content": None, "reasoning": None}, {}], Turn(0))
    assert live == end == []
