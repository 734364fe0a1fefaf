"""What the model is sent to answer one message: the system prompt, the branch that leads to the message (its
prompts and answers' text), then the message's prompt.

Invariants:
- The history is the message's branch alone, walked up from the message (db/branches.py), never "the thread": a
  sibling branch's prompts and answers (variants made by regenerate or editMessage) never reach the model.
- Earlier turns are kept newest first while the whole conversation stays within the context limit; the first turn
  that does not fit ends the history, so the model never sees a gap or half a turn.
- An answer's `content` is its TEXT alone: its reasoning was the model's own scratch work (reasoning servers expect
  it not to be sent back), and its tool calls and results were steps towards the text. Its `parts` hold all of
  them, whole, for a generator of your own that wants them; persistream's providers read `content` only.
"""

from __future__ import annotations

from persistream.chat.views import body_from
from persistream.db import branches, streams
from persistream.db.database import Database
from persistream.db.models import MessageRow
from persistream.engine.events import Part
from persistream.llm.base import ChatMessage
from persistream.parts import PartEvent, PartKind, ReasoningDelta, ToolCallDelta, ToolResult


async def build(db: Database, message: MessageRow, *, system_prompt: str, max_chars: int) -> list[ChatMessage]:
    """The conversation that `message` ends: one query for the branch (walked from the message itself, so a thread's
    first prompt costs just that one), one more for the earlier answers' streams and chunks."""
    earlier = (await branches.walk_up(db, message.id))[:-1]
    bodies = await streams.read_texts(db, [m.response_stream_id for m in earlier])
    budget = max_chars - len(system_prompt) - len(message.prompt)
    kept: list[list[ChatMessage]] = []
    for m in reversed(earlier):
        body = body_from(m.response_stream_id, bodies.get(m.response_stream_id))
        answer = body.text
        turn = [ChatMessage("user", m.prompt)]
        if answer:  # an answer without text (it failed before any) is left out, as it always was
            turn.append(ChatMessage("assistant", answer, parts=tuple(part_event(p) for p in body.all_parts)))
        budget -= len(m.prompt) + len(answer)
        if budget < 0:
            break
        kept.append(turn)
    system = ChatMessage("system", system_prompt)
    return [system, *(msg for turn in reversed(kept) for msg in turn), ChatMessage("user", message.prompt)]


def part_event(part: Part) -> PartEvent:
    """A stored part as the event a generator would yield for it, whole."""
    head = part.head
    if head.kind is PartKind.REASONING:
        return ReasoningDelta(part.text)
    if head.kind is PartKind.TOOL_CALL:
        return ToolCallDelta(head.tool_call_id or "", head.tool_name or "", part.text)
    if head.kind is PartKind.TOOL_RESULT:
        return ToolResult(head.tool_call_id or "", head.tool_name or "", part.text, head.is_error)
    return part.text
