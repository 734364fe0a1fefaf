"""The per-identity `sendMessage` counters of the rate limit, one row per identity and fixed window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        name("rate_windows"),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "window_start"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table(name("rate_windows"))
