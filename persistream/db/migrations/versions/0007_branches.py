"""Branches: a message names the message it follows (`messages.parent_id`), so a thread is a tree of messages.

Every existing thread becomes one branch: each message's parent is the message before it in its thread, in the
(created_at, id) order the history has always been read in, and the thread's first message has none. The backfill
is one UPDATE whose lookup of the previous message is one step back in `ix_messages_thread_id_created_at_id`.

SQLite cannot add a foreign key with ALTER TABLE except inline in the new column's definition, which is what it
gets (a batch copy of `messages` would do the same work for a whole table copy). PostgreSQL adds the column and
its constraint. Downgrading drops the column (with its constraint): the older readers see each thread as the list
of all its messages again, variants included.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Row values compare (created_at, id) as one key on both databases, which seek the index with it.
_PREVIOUS_IN_THREAD = """
UPDATE {messages} SET parent_id = (
    SELECT earlier.id FROM {messages} AS earlier
    WHERE earlier.thread_id = {messages}.thread_id
      AND (earlier.created_at, earlier.id) < ({messages}.created_at, {messages}.id)
    ORDER BY earlier.created_at DESC, earlier.id DESC
    LIMIT 1
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        messages = name("messages")
        op.execute(f"ALTER TABLE {messages} ADD COLUMN parent_id VARCHAR(36) REFERENCES {messages} (id)")
    else:
        op.add_column(
            name("messages"),
            sa.Column("parent_id", sa.String(length=36), sa.ForeignKey(name("messages") + ".id"), nullable=True),
        )
    op.create_index(name("ix_messages_parent_id_thread_id"), name("messages"), ["parent_id", "thread_id"])
    op.execute(sa.text(_PREVIOUS_IN_THREAD.format(messages=name("messages"))))


def downgrade() -> None:
    op.drop_index(name("ix_messages_parent_id_thread_id"), table_name=name("messages"))
    op.drop_column(name("messages"), "parent_id")  # its constraint goes with it (inline on SQLite, 3.35+)
