"""History that stays flat with data: keyset indexes for threads and messages, and compaction of finished streams.

- `threads(last, before)` and `messages(threadId, last, before)` order by (created_at, id) within an owner or a
  thread: the composite indexes give that order directly, so a page is one index range at 100 or 100,000 rows.
  They replace the indexes that were their prefixes (`ix_threads_owner`, `ix_threads_owner_created_at`,
  `ix_messages_thread_id`), which would only cost writes now.
- `streams.compacted` marks a final stream whose chunks are one row (see `compaction.compact_stream`); the sweeper
  finds the others through `ix_streams_status_compacted`. Final streams of at most one chunk need nothing and are
  marked at once; longer ones are compacted by the sweeper after the upgrade.

Downgrading drops the marker and restores the old indexes; compacted chunks stay valid for the older readers
(a chunk's text always starts at `end_offset - len(text)`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(name("ix_threads_owner_created_at_id"), name("threads"), ["owner", "created_at", "id"])
    op.drop_index(name("ix_threads_owner_created_at"), table_name=name("threads"))
    op.drop_index(name("ix_threads_owner"), table_name=name("threads"))
    op.create_index(name("ix_messages_thread_id_created_at_id"), name("messages"), ["thread_id", "created_at", "id"])
    op.drop_index(name("ix_messages_thread_id"), table_name=name("messages"))

    # A plain ADD COLUMN (SQLite allows one with a default): a batch copy of `streams` would break the foreign keys
    # of chunks and messages that point at it.
    op.add_column(name("streams"), sa.Column("compacted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(name("ix_streams_status_compacted"), name("streams"), ["status", "compacted"])
    op.execute(
        sa.text(
            f"UPDATE {name('streams')} SET compacted = :yes "
            "WHERE status IN ('DONE', 'ERROR', 'TIMEOUT', 'CANCELLED') AND last_seq <= 1"
        ).bindparams(yes=True)
    )


def downgrade() -> None:
    op.drop_index(name("ix_streams_status_compacted"), table_name=name("streams"))
    op.drop_column(name("streams"), "compacted")  # SQLite 3.35+ drops a column in place

    op.create_index(name("ix_messages_thread_id"), name("messages"), ["thread_id"])
    op.drop_index(name("ix_messages_thread_id_created_at_id"), table_name=name("messages"))
    op.create_index(name("ix_threads_owner"), name("threads"), ["owner"])
    op.create_index(name("ix_threads_owner_created_at"), name("threads"), ["owner", "created_at"])
    op.drop_index(name("ix_threads_owner_created_at_id"), table_name=name("threads"))
