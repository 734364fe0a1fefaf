"""The offline demo model: labelled as a demo, several sentences, token by token, aware of the thread's history."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from persistream.config import Settings
from persistream.engine.chunker import Chunker
from persistream.llm import DemoModel, create_model
from persistream.llm.base import ChatMessage
from persistream.llm.tool_loop import run_tool_loop
from persistream.parts import ReasoningDelta, ToolCallDelta, ToolResult, Usage


def conversation(*prompts: str) -> list[ChatMessage]:
    messages = [ChatMessage("system", "be brief")]
    for prompt in prompts[:-1]:
        messages += [ChatMessage("user", prompt), ChatMessage("assistant", "an answer")]
    return [*messages, ChatMessage("user", prompts[-1])]


async def test_streams_the_labelled_answer_token_by_token() -> None:
    model = DemoModel(token_delay=0.001)
    messages = conversation("What is persistent streaming?")
    started = time.monotonic()
    tokens = [token async for token in model.stream(messages)]
    elapsed = time.monotonic() - started
    answer = "".join(tokens)
    assert answer == model.answer_for(messages)
    assert answer.startswith("**Demo model.**")
    assert "demo provider" in answer
    assert '"What is persistent streaming?"' in answer
    assert "first question of the thread" in answer
    assert len(tokens) > 50 and all(tokens)
    assert elapsed >= len(tokens) * 0.001 * 0.5  # it paces its tokens (and so yields to the event loop)
    await model.aclose()


def test_several_sentences_so_chunking_shows() -> None:
    answer = DemoModel().answer_for(conversation("hi"))
    chunker = Chunker(max_chars=1000, max_delay=10)
    chunks = [c for token in answer.split(" ") for c in chunker.add(token + " ", 0.0)]
    assert len(chunks) >= 4


def test_mentions_the_history_it_was_given() -> None:
    model = DemoModel()
    assert "1 earlier question," in model.answer_for(conversation("first", "second"))
    assert "2 earlier questions" in model.answer_for(conversation("first", "second", "third"))


def test_long_prompts_are_shortened_and_blank_runs_collapsed() -> None:
    answer = DemoModel().answer_for(conversation("word  \n " * 100))
    quoted = answer.split('You asked: "', 1)[1].split('"', 1)[0]
    assert len(quoted) == 80
    assert quoted.endswith("...")
    assert "  " not in quoted and "\n" not in quoted


def test_create_model_picks_demo_without_a_key() -> None:
    model = create_model(Settings(provider="demo", demo_token_delay=0.01))
    assert isinstance(model, DemoModel)
    assert model.token_delay == 0.01


async def test_its_parts_show_every_kind_and_the_same_text() -> None:
    """Reasoning, one call of the clock tool and its result, the same text as `stream`, then the usage."""
    model = DemoModel(token_delay=0.001)
    messages = conversation("What time is it?")
    events = [event async for event in model.stream_parts(messages)]
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    call = next(e for e in events if isinstance(e, ToolCallDelta))
    result = next(e for e in events if isinstance(e, ToolResult))
    text = [e for e in events if isinstance(e, str)]
    assert events == [*reasoning, call, result, *text, events[-1]]
    assert 0 < len("".join(r.text for r in reasoning).split()) <= 30
    assert (call.name, call.arguments) == ("current_time", "{}")
    assert (result.call_id, result.name, result.is_error) == (call.call_id, "current_time", False)
    assert abs(datetime.fromisoformat(result.text) - datetime.now(UTC)) < timedelta(seconds=5)
    assert "".join(text) == model.answer_for(messages)
    assert text == [token async for token in model.stream(messages)]
    usage = events[-1]
    assert isinstance(usage, Usage) and usage.reasoning_tokens == len(reasoning)
    assert usage.output_tokens == len(text) + len(reasoning) and (usage.input_tokens or 0) > 0


async def test_the_tool_loop_has_nothing_left_to_run_for_the_demo() -> None:
    """The demo runs its clock itself: through the loop, without tools configured, it is one step, no error."""
    model = DemoModel(token_delay=0)
    events = [event async for event in run_tool_loop(model, conversation("hi"), [])]
    assert sum(isinstance(e, ToolResult) for e in events) == 1
    assert isinstance(events[-1], Usage)
