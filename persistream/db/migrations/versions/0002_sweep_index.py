"""An index for the sweeper's search of STREAMING streams whose heartbeat stopped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from persistream.db.migrations.names import name

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        name("ix_streams_status_heartbeat_at"), name("streams"), ["status", "heartbeat_at"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index(name("ix_streams_status_heartbeat_at"), table_name=name("streams"))
