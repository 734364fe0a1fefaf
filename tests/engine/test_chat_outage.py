"""The database away for a moment right after an answer is claimed: the conversation read that follows the claim
is tried again, like the answer's chunk writes, so the answer is asked of the model once and completes, instead of
ending in ERROR ("unexpected error") with the model never asked. Found by `python -m bench.chaos` (a PostgreSQL
cut landing between the claim and the history read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

from persistream.chat.identity import Identity
from persistream.chat.service import ChatService
from persistream.db.database import Database
from persistream.engine.events import StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.stream_engine import StreamEngine
from persistream.llm.base import ChatMessage

TOKENS = [" the", " whole", " answer."]


class CountingModel:
    name = "counting"

    def __init__(self) -> None:
        self.asked: list[list[ChatMessage]] = []

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        self.asked.append(list(messages))
        for token in TOKENS:
            await asyncio.sleep(0.01)
            yield token

    async def aclose(self) -> None:
        return None


def fail_reads_after_the_claim(db: Database, failures: int) -> list[str]:
    """The first `failures` reads after a claim fail as a database that went away does (connection refused);
    returns the statements that failed."""
    failed: list[str] = []
    armed = [False]

    def before_execute(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE STREAMS") and "STREAMING" in str(parameters):
            armed[0] = True
        elif armed[0] and statement.lstrip().upper().startswith("SELECT") and len(failed) < failures:
            failed.append(statement)
            raise ConnectionRefusedError(111, "Connection refused")

    event.listen(db.engine.sync_engine, "before_cursor_execute", before_execute)
    return failed


async def test_an_outage_right_after_the_claim_does_not_fail_the_answer(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    await db.create_tables()
    engine = StreamEngine(db, Hub("memory://"), flush_ms=20, stream_timeout=10)
    model = CountingModel()
    chat = ChatService(engine, model, system_prompt="be brief", max_prompt_chars=1000)
    caller = Identity("someone")
    await engine.start()
    try:
        message = await chat.send_message(caller, "a question")
        failed = fail_reads_after_the_claim(db, failures=3)
        events = [e async for e in await chat.stream_chat(caller, message.response_stream_id)]
        assert failed, "no read after the claim failed: the test did not test anything"
        assert (events[-1].status, events[-1].error) == (StreamStatus.DONE, None)
        assert "".join(e.delta for e in events) == "".join(TOKENS)
        assert len(model.asked) == 1
        assert model.asked[0][-1] == ChatMessage("user", "a question")
        body = await engine.body(message.response_stream_id)
        assert (body.text, body.status) == ("".join(TOKENS), StreamStatus.DONE)
    finally:
        await engine.stop()
        await db.close()
