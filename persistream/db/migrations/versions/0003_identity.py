"""Identity and sharing: threads listed by owner, share tokens, server secrets; old threads become 'local's.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from persistream.db.migrations.names import name

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table(name("threads")) as batch:
        batch.add_column(sa.Column("share_token", sa.String(length=64), nullable=True))
    op.create_index(name("ix_threads_share_token"), name("threads"), ["share_token"], unique=True)
    op.create_index(name("ix_threads_owner_created_at"), name("threads"), ["owner", "created_at"])
    op.create_table(
        name("secrets"),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Threads from before identities were the one local user's (PERSISTREAM_AUTH=none).
    op.execute(f"UPDATE {name('threads')} SET owner = 'local' WHERE owner IS NULL")


def downgrade() -> None:
    op.drop_table(name("secrets"))
    op.drop_index(name("ix_threads_owner_created_at"), table_name=name("threads"))
    op.drop_index(name("ix_threads_share_token"), table_name=name("threads"))
    with op.batch_alter_table(name("threads")) as batch:
        batch.drop_column("share_token")
