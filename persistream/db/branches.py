"""Branches: the reads of a thread's tree of messages (`MessageRow.parent_id`).

Invariants:
- A branch is the walk up from one message (its leaf) through each parent to a first message of its thread; it is
  read oldest first. The walk is one recursive query, one primary-key step per message, however big the thread.
- A message's siblings are the messages of its thread with the same parent (NULL for the thread's first messages),
  itself included, oldest first by (created_at, id): a range of `ix_messages_parent_id_thread_id` per parent.
- Nothing here writes: a message and its parent are stored by `threads.add_message` and never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from persistream.db.database import Database
from persistream.db.models import MessageRow

# A message's parent and thread: what its siblings are the children of.
SiblingKey = tuple[str, str | None]
# Parents per statement when siblings are read in a batch (far below any driver's parameter limit).
_KEY_SLICE = 500


async def walk_up(db: Database, leaf_id: str, last: int | None = None) -> list[MessageRow]:
    """The branch that ends at `leaf_id`, oldest first; with `last`, only its newest `last` messages (the walk
    stops there). Empty when there is no such message."""
    step = literal(1).label("step")
    up = select(col(MessageRow.id), col(MessageRow.parent_id), step).where(col(MessageRow.id) == leaf_id)
    # Nested in the SELECT that reads the messages: the statement stays a SELECT like every other read here (what
    # tells reads from writes by their first word, a proxy or a fault injector, sees it as one).
    walked = up.cte("walked", recursive=True, nesting=True)
    parent = select(col(MessageRow.id), col(MessageRow.parent_id), (walked.c.step + 1).label("step")).join(
        walked, col(MessageRow.id) == walked.c.parent_id
    )
    if last is not None:
        parent = parent.where(walked.c.step < last)
    walked = walked.union_all(parent)
    branch = select(walked.c.id, walked.c.step).subquery("branch")
    statement = select(MessageRow).join(branch, col(MessageRow.id) == branch.c.id).order_by(branch.c.step.desc())
    async with db.session() as session:
        return list((await session.execute(statement)).scalars().all())


async def newest_message_id(db: Database, thread_id: str, session: AsyncSession | None = None) -> str | None:
    """The id of the thread's newest message (by created_at, then id), where its default branch ends; None for
    a thread with none. Inside `session` when given (a send reads it in the transaction that stores after it)."""
    statement = (
        select(col(MessageRow.id))
        .where(col(MessageRow.thread_id) == thread_id)
        .order_by(col(MessageRow.created_at).desc(), col(MessageRow.id).desc())
        .limit(1)
    )
    if session is not None:
        return (await session.execute(statement)).scalars().first()
    async with db.session() as own:
        return (await own.execute(statement)).scalars().first()


def _children_of(keys: Iterable[SiblingKey]) -> ColumnElement[bool]:
    parents = sorted({parent for _, parent in keys if parent is not None})
    first_of = sorted({thread for thread, parent in keys if parent is None})
    conditions: list[ColumnElement[bool]] = []
    if parents:
        conditions.append(col(MessageRow.parent_id).in_(parents))
    if first_of:
        conditions.append(and_(col(MessageRow.parent_id).is_(None), col(MessageRow.thread_id).in_(first_of)))
    return or_(*conditions)


async def sibling_ids(db: Database, keys: Sequence[SiblingKey]) -> dict[SiblingKey, list[str]]:
    """For each (thread, parent), the ids of the thread's messages with that parent, oldest first: the variants
    of one turn. One query per `_KEY_SLICE` keys, however many messages ask."""
    unique = list(dict.fromkeys(keys))
    found: dict[SiblingKey, list[str]] = {key: [] for key in unique}
    async with db.session() as session:
        for start in range(0, len(unique), _KEY_SLICE):
            statement = (
                select(col(MessageRow.id), col(MessageRow.thread_id), col(MessageRow.parent_id))
                .where(_children_of(unique[start : start + _KEY_SLICE]))
                .order_by(col(MessageRow.created_at), col(MessageRow.id))
            )
            for message_id, thread_id, parent_id in (await session.execute(statement)).all():
                siblings = found.get((thread_id, parent_id))
                if siblings is not None:  # a child of an asked parent, in the asked thread
                    siblings.append(message_id)
    return found
