"""A thread's tree of messages in the database, without a server: the walk up a branch, siblings read in batches
(a constant number of statements for `siblingIds` however many messages ask), and deletion and retention taking
the whole tree (its self-referencing foreign key never stops them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from persistream.chat.identity import LOCAL
from persistream.chat.service import ChatService
from persistream.db import branches, retention, streams, threads
from persistream.db.database import Database
from persistream.db.models import MessageRow, ThreadRow
from persistream.engine.hub import Hub
from persistream.engine.ids import new_id
from persistream.engine.stream_engine import StreamEngine
from persistream.llm.base import ChatMessage
from persistream.resolvers.context import Context
from persistream.schema import schema


class SilentModel:
    name = "silent"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        if False:
            yield ""

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tree.db'}")
    await database.create_tables()
    yield database
    await database.close()


async def add(db: Database, thread: ThreadRow | None, parent: str | None = None, *, newest: bool = False) -> MessageRow:
    stored = await threads.add_message(
        db,
        thread=thread,
        thread_id=new_id(),
        message_id=new_id(),
        stream_id=new_id(),
        prompt="p",
        title="t",
        owner=LOCAL.id,
        parent_id=parent,
        after_newest=newest,
    )
    assert stored is not None
    return stored[1]


async def tree(db: Database) -> tuple[ThreadRow, dict[str, MessageRow]]:
    """root -> a -> b, a variant a2 of a, a variant b2 of b, and a second root r2."""
    root = await add(db, None)
    thread = await threads.get_thread(db, root.thread_id)
    assert thread is not None
    a = await add(db, thread, newest=True)
    b = await add(db, thread, newest=True)
    a2 = await add(db, thread, root.id)
    b2 = await add(db, thread, a.id)
    r2 = await add(db, thread, None)
    return thread, {"root": root, "a": a, "b": b, "a2": a2, "b2": b2, "r2": r2}


async def test_branches_and_siblings(db: Database) -> None:
    thread, m = await tree(db)
    assert (m["a"].parent_id, m["b"].parent_id) == (m["root"].id, m["a"].id)  # after the newest, in turn
    assert [x.id for x in await branches.walk_up(db, m["b2"].id)] == [m["root"].id, m["a"].id, m["b2"].id]
    assert [x.id for x in await branches.walk_up(db, m["b"].id, 2)] == [m["a"].id, m["b"].id]
    assert await branches.walk_up(db, new_id()) == []
    assert await branches.newest_message_id(db, thread.id) == m["r2"].id
    found = await branches.sibling_ids(db, [(thread.id, m["a"].id), (thread.id, None), (thread.id, m["root"].id)])
    assert found == {
        (thread.id, m["a"].id): [m["b"].id, m["b2"].id],
        (thread.id, None): [m["root"].id, m["r2"].id],
        (thread.id, m["root"].id): [m["a"].id, m["a2"].id],
    }
    stranger = (new_id(), None)
    assert await branches.sibling_ids(db, [stranger]) == {stranger: []}


@pytest.fixture
def selects(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_sibling_ids_cost_the_same_for_one_message_or_many(db: Database, selects: list[str]) -> None:
    chat = ChatService(StreamEngine(db, Hub("memory://")), SilentModel(), system_prompt="", max_prompt_chars=100)
    query = "query { threads(last: 1000) { id messages { id siblingIds } } }"

    async def statements() -> int:
        selects.clear()
        result = await schema.execute(query, context_value=Context(chat=chat, identity=LOCAL))
        assert result.errors is None, result.errors
        return len(selects)

    await tree(db)
    few = await statements()
    for _ in range(5):
        await tree(db)
    assert await statements() == few


async def test_deleting_and_expiring_take_the_whole_tree(db: Database) -> None:
    deleted, _ = await tree(db)
    kept, messages = await tree(db)
    for message in messages.values():  # retention leaves a thread with a live answer alone
        generation = new_id()
        assert await streams.claim_stream(db, message.response_stream_id, generation)
        assert await streams.finish_generation(db, message.response_stream_id, generation, "DONE", None)
    assert await threads.delete_thread(db, deleted.id)
    counts = await retention.count_rows(db)
    assert counts == {"threads": 1, "messages": 6, "streams": 6, "chunks": 0}
    future = kept.created_at + timedelta(days=1)
    assert await retention.expire_threads(db, future, 10) == 1
    assert await retention.count_rows(db) == {"threads": 0, "messages": 0, "streams": 0, "chunks": 0}
