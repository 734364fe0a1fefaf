"""The openai provider's parts, read from every wire shape OpenAI-compatible servers use, through the real openai
SDK's request over a real socket to the fake server: reasoning under its three names, tool calls split across
frames (several in one turn, interleaved, without ids), text around them, and usage. Whatever the shape, the
events make parts where only the last one grows, and `stream` gives the text alone."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

from persistream.llm.base import ChatMessage, ModelError, ToolCall
from persistream.parts import PartKind, ReasoningDelta, ToolCallDelta, Usage
from tests.llm.support import build_parts, collect, openai_model, usages
from tests.support.fake_openai import SECRET_KEY, FakeOpenAI, Script, tool_call_deltas
from tests.support.streams import unique

REASONING_SHAPES: dict[str, list[dict[str, Any]]] = {
    "reasoning_content": [{"reasoning_content": "Let me "}, {"reasoning_content": "think."}],
    "reasoning": [{"reasoning": "Let me "}, {"reasoning": "think."}],
    "reasoning_details": [
        {"reasoning_details": [{"type": "reasoning.text", "text": "Let me ", "format": "unknown", "index": 0}]},
        {"reasoning_details": [{"type": "reasoning.encrypted", "data": "c2VjcmV0", "index": 0}]},
        {"reasoning_details": [{"type": "reasoning.summary", "summary": "think.", "index": 0}]},
    ],
    # OpenRouter sends the same text as `reasoning` and in `reasoning_details`; DeepSeek-style servers in transition
    # send `reasoning_content` with a null `content` beside it: it is read once.
    "reasoning-and-details": [
        {"reasoning": "Let me ", "reasoning_details": [{"type": "reasoning.text", "text": "Let me "}]},
        {"reasoning": "think.", "reasoning_details": [{"type": "reasoning.text", "text": "think."}]},
    ],
    "with-null-content": [
        {"content": None, "reasoning_content": "Let me "},
        {"content": None, "reasoning_content": "think.", "reasoning": "think."},
    ],
}


async def parts_for(fake: FakeOpenAI, script: Script, **options: Any) -> tuple[list[Any], str]:
    name = unique("parts")
    marker = fake.add(name, script)
    model = openai_model(fake)
    try:
        events = await collect(model.stream_parts([ChatMessage("user", marker)], **options))
    finally:
        await model.aclose()
    return events, name


async def text_for(fake: FakeOpenAI, script: Script) -> str:
    marker = fake.add(unique("text"), script)
    model = openai_model(fake)
    try:
        return "".join([token async for token in model.stream([ChatMessage("user", marker)])])
    finally:
        await model.aclose()


@pytest.mark.parametrize("shape", sorted(REASONING_SHAPES))
async def test_reasoning_in_each_wire_shape(fake_openai: FakeOpenAI, shape: str) -> None:
    script = Script([" The", " answer."], deltas=REASONING_SHAPES[shape])
    events, _ = await parts_for(fake_openai, script)
    assert events == [ReasoningDelta("Let me "), ReasoningDelta("think."), " The", " answer."]
    parts = build_parts(events)
    assert [(p.kind, p.text) for p in parts] == [(PartKind.REASONING, "Let me think."), (PartKind.TEXT, " The answer.")]
    assert await text_for(fake_openai, script) == " The answer."


async def test_one_tool_call_split_across_frames_streams_as_it_comes(fake_openai: FakeOpenAI) -> None:
    arguments = '{"city": "Paris", "days": 3}'
    deltas = [{"content": "Let me look."}, *tool_call_deltas([("call_a", "get_weather", arguments)], pieces=4)]
    events, _ = await parts_for(fake_openai, Script([], deltas=deltas, finish_reason="tool_calls"))
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(calls) == 4 and {(c.call_id, c.name) for c in calls} == {("call_a", "get_weather")}
    parts = build_parts(events)
    assert [(p.kind, p.text, p.name, p.call_id) for p in parts] == [
        (PartKind.TEXT, "Let me look.", None, None),
        (PartKind.TOOL_CALL, arguments, "get_weather", "call_a"),
    ]
    assert await text_for(fake_openai, Script([], deltas=deltas)) == "Let me look."


CALLS = [
    ("call_a", "get_weather", '{"city": "Paris"}'),
    ("call_b", "get_time", '{"zone": "Europe/Paris", "format": "iso"}'),
    ("call_c", "get_weather", '{"city": "Oslo"}'),
]


async def test_several_calls_one_after_the_other_each_stream_live(fake_openai: FakeOpenAI) -> None:
    events, _ = await parts_for(fake_openai, Script([], deltas=tool_call_deltas(CALLS, pieces=3)))
    parts = build_parts(events)
    assert [(p.call_id, p.name, p.text) for p in parts] == CALLS
    # Each call went out in its fragments (none was held back to the end of the turn).
    assert len([e for e in events if isinstance(e, ToolCallDelta)]) == 9


async def test_interleaved_calls_stay_whole_and_in_order(fake_openai: FakeOpenAI) -> None:
    """Fragments of three calls interleaved by index (0, 1, 2, 0, 1, 2, ...), text after them: the first call streams,
    the others and the text come whole at the end, in order of first appearance; nothing lost or reordered."""
    deltas = [*tool_call_deltas(CALLS, pieces=3, interleave=True), {"content": "Done."}]
    events, _ = await parts_for(fake_openai, Script([], deltas=deltas))
    parts = build_parts(events)
    assert [(p.kind, p.call_id, p.name, p.text) for p in parts] == [
        *[(PartKind.TOOL_CALL, *call) for call in CALLS],
        (PartKind.TEXT, None, None, "Done."),
    ]
    first = [e for e in events if isinstance(e, ToolCallDelta) and e.call_id == "call_a"]
    assert len(first) == 3, "the first call streams live"


async def test_calls_without_ids_get_ids_of_their_own(fake_openai: FakeOpenAI) -> None:
    calls = [(None, "get_weather", '{"city": "Paris"}'), (None, "get_weather", '{"city": "Oslo"}')]
    events, _ = await parts_for(fake_openai, Script([], deltas=tool_call_deltas(calls, interleave=True)))
    parts = build_parts(events)
    assert [p.text for p in parts] == ['{"city": "Paris"}', '{"city": "Oslo"}']
    ids = [p.call_id or "" for p in parts]
    assert all(re.fullmatch(r"call_\d+_\w+", i) for i in ids) and len(set(ids)) == 2, ids


async def test_tool_calls_read_as_the_sdks_own_parse_reads_them(fake_openai: FakeOpenAI) -> None:
    """The calls the SDK's own parse accumulates (by index, fragments joined) are the calls our parts hold."""
    name = unique("parts-sdk")
    marker = fake_openai.add(name, Script([], deltas=tool_call_deltas(CALLS, pieces=5, interleave=True)))
    client = openai.AsyncOpenAI(api_key=SECRET_KEY, base_url=fake_openai.base_url, max_retries=0)
    sdk: dict[int, list[str]] = {}
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": marker}], stream=True
    )
    async for chunk in stream:
        for choice in chunk.choices:
            for fragment in choice.delta.tool_calls or ():
                entry = sdk.setdefault(fragment.index, ["", "", ""])
                function = fragment.function
                entry[0] = entry[0] or (fragment.id or "")
                entry[1] = entry[1] or ((function.name if function else None) or "")
                entry[2] += (function.arguments if function else None) or ""
    await client.close()
    events, _ = await parts_for(fake_openai, Script([], deltas=tool_call_deltas(CALLS, pieces=5, interleave=True)))
    assert [(p.call_id, p.name, p.text) for p in build_parts(events)] == [tuple(sdk[i]) for i in sorted(sdk)]


async def test_usage_is_asked_for_and_reported_last(fake_openai: FakeOpenAI) -> None:
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "total_tokens": 46,
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    events, name = await parts_for(fake_openai, Script([" Hi."], deltas=[{"reasoning": "Hm."}], usage=usage))
    assert events[-1] == Usage(12, 34, 5) and usages(events) == [Usage(12, 34, 5)]
    (request,) = fake_openai.requests_for(name)
    assert request.body["stream_options"] == {"include_usage": True}
    assert "tools" not in request.body
    bare, _ = await parts_for(fake_openai, Script([" Hi."], usage={"prompt_tokens": 3, "completion_tokens": 1}))
    assert usages(bare) == [Usage(3, 1, None)]
    silent, _ = await parts_for(fake_openai, Script([" Hi."]))
    assert usages(silent) == []


async def test_the_text_path_still_asks_for_usage_and_yields_text_only(fake_openai: FakeOpenAI) -> None:
    deltas = [{"reasoning_content": "Hm."}, *tool_call_deltas(CALLS[:1]), {"content": " after"}]
    script = Script([" more"], deltas=deltas, usage={"prompt_tokens": 1, "completion_tokens": 2})
    assert await text_for(fake_openai, script) == " after more"


async def test_tools_are_sent_as_given(fake_openai: FakeOpenAI) -> None:
    schema = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    _, name = await parts_for(fake_openai, Script([" ok"]), tools=[schema])
    (request,) = fake_openai.requests_for(name)
    assert request.body["tools"] == [schema]


async def test_a_tool_loop_conversation_goes_on_the_wire_as_the_api_takes_it(fake_openai: FakeOpenAI) -> None:
    name = unique("parts-wire")
    marker = fake_openai.add(name, Script([" ok"]))
    messages = [
        ChatMessage("system", "be brief"),
        ChatMessage("user", marker),
        ChatMessage("assistant", "", tool_calls=(ToolCall("call_1", "f", '{"x": 1}'),)),
        ChatMessage("tool", '{"y": 2}', tool_call_id="call_1"),
    ]
    model = openai_model(fake_openai)
    await collect(model.stream_parts(messages))
    await model.aclose()
    (request,) = fake_openai.requests_for(name)
    assert request.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": marker},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
        },
        {"role": "tool", "content": '{"y": 2}', "tool_call_id": "call_1"},
    ]
    assert json.dumps(request.body["messages"])  # plain JSON, as recorded


async def test_what_was_held_is_kept_when_the_stream_fails(fake_openai: FakeOpenAI) -> None:
    """Interleaved calls, then an error frame: the held calls still come out (as text before a failure does),
    then the failure."""
    script = Script([" lost"], deltas=tool_call_deltas(CALLS[:2], interleave=True), error_after=0)
    marker = fake_openai.add(unique("parts-error"), script)
    model = openai_model(fake_openai)
    events: list[Any] = []
    with pytest.raises(ModelError) as failure:
        async for event in model.stream_parts([ChatMessage("user", marker)]):
            events.append(event)
    await model.aclose()
    assert "reported an error while answering" in failure.value.user_message
    assert [(p.call_id, p.name, p.text) for p in build_parts(events)] == CALLS[:2]
