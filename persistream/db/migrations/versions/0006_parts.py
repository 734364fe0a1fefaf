"""Parts: a chunk names the part its text belongs to, and a stream keeps the tokens its model reported.

Every new column is nullable and NULL means what a row meant before: a chunk of TEXT part 0 whose part length is
its `end_offset`, a stream whose model reported no usage. Existing answers therefore read back unchanged, and a
text-only answer keeps storing exactly the rows and bytes it stored before. Plain ADD COLUMNs (no batch copy, which
would break the foreign keys that point at `streams`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK_COLUMNS = ("part", "kind", "tool_name", "tool_call_id", "is_error", "part_end")
STREAM_COLUMNS = ("input_tokens", "output_tokens", "reasoning_tokens")


def upgrade() -> None:
    op.add_column(name("chunks"), sa.Column("part", sa.Integer(), nullable=True))
    op.add_column(name("chunks"), sa.Column("kind", sa.String(length=16), nullable=True))
    op.add_column(name("chunks"), sa.Column("tool_name", sa.String(), nullable=True))
    op.add_column(name("chunks"), sa.Column("tool_call_id", sa.String(), nullable=True))
    op.add_column(name("chunks"), sa.Column("is_error", sa.Boolean(), nullable=True))
    op.add_column(name("chunks"), sa.Column("part_end", sa.Integer(), nullable=True))
    for column in STREAM_COLUMNS:
        op.add_column(name("streams"), sa.Column(column, sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place. The older readers then take every chunk as text: an answer with other
    # parts than TEXT reads back with them mixed in, as they cannot tell them apart.
    for column in STREAM_COLUMNS:
        op.drop_column(name("streams"), column)
    for column in CHUNK_COLUMNS:
        op.drop_column(name("chunks"), column)
