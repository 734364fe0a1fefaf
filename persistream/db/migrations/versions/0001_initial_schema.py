"""Initial schema: threads, messages, streams and their chunks.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        name("streams"),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.String(length=36), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(name("ix_streams_status"), name("streams"), ["status"])

    op.create_table(
        name("threads"),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(name("ix_threads_created_at"), name("threads"), ["created_at"])
    op.create_index(name("ix_threads_owner"), name("threads"), ["owner"])

    op.create_table(
        name("chunks"),
        sa.Column("stream_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("end_offset", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["stream_id"], [name("streams") + ".id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("stream_id", "seq"),
    )

    op.create_table(
        name("messages"),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("thread_id", sa.String(length=36), nullable=False),
        sa.Column("prompt", sa.String(), nullable=False),
        sa.Column("response_stream_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["response_stream_id"], [name("streams") + ".id"]),
        sa.ForeignKeyConstraint(["thread_id"], [name("threads") + ".id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_stream_id"),
    )
    op.create_index(name("ix_messages_created_at"), name("messages"), ["created_at"])
    op.create_index(name("ix_messages_thread_id"), name("messages"), ["thread_id"])


def downgrade() -> None:
    op.drop_table(name("messages"))
    op.drop_table(name("chunks"))
    op.drop_table(name("threads"))
    op.drop_table(name("streams"))
