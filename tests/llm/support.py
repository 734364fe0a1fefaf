"""What the model-side tests share: the model under test against the fake OpenAI-compatible server, and the parts an
engine would build from a stream of part events (checking on the way that only the last part ever grows)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from persistream.llm.openai import OpenAIModel
from persistream.parts import PartEvent, PartKind, ReasoningDelta, ToolCallDelta, ToolResult, Usage
from tests.support.fake_openai import SECRET_KEY, FakeOpenAI


def openai_model(fake: FakeOpenAI, **options: Any) -> OpenAIModel:
    return OpenAIModel(model="m", api_key=SECRET_KEY, base_url=fake.base_url, max_retries=0, **options)


async def collect(events: AsyncIterator[PartEvent]) -> list[PartEvent]:
    return [event async for event in events]


@dataclass
class BuiltPart:
    kind: PartKind
    text: str
    name: str | None = None
    call_id: str | None = None
    is_error: bool = False


def build_parts(events: list[PartEvent]) -> list[BuiltPart]:
    """The parts these events make, the way the contract says: a new part when the kind or the tool call changes,
    else the last part grows. A tool call whose deltas are not all in one part fails the test."""
    parts: list[BuiltPart] = []
    for event in events:
        if isinstance(event, Usage):
            continue
        if isinstance(event, ToolResult):
            parts.append(BuiltPart(PartKind.TOOL_RESULT, event.text, event.name, event.call_id, event.is_error))
            continue
        if isinstance(event, str):
            kind, text, name, call_id = PartKind.TEXT, event, None, None
        elif isinstance(event, ReasoningDelta):
            kind, text, name, call_id = PartKind.REASONING, event.text, None, None
        else:
            assert isinstance(event, ToolCallDelta), event
            kind, text, name, call_id = PartKind.TOOL_CALL, event.arguments, event.name, event.call_id
        last = parts[-1] if parts else None
        if last is not None and last.kind == kind and last.call_id == call_id:
            assert last.name == name, f"a tool call's name changed: {last.name} -> {name}"
            last.text += text
        else:
            parts.append(BuiltPart(kind, text, name, call_id))
    calls = [p.call_id for p in parts if p.kind == PartKind.TOOL_CALL]
    assert len(calls) == len(set(calls)), f"a tool call went on after another part began: {calls}"
    return parts


def usages(events: list[PartEvent]) -> list[Usage]:
    return [e for e in events if isinstance(e, Usage)]
