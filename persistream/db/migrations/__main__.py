"""For developers: write the next revision from the difference between the models and the newest revision.

    python -m persistream.db.migrations "add an index for ..."

It migrates a scratch SQLite database to the newest revision, compares it with the models and writes
`versions/NNNN_<message>.py`. Review it (and try it on PostgreSQL) before committing.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.db.migrations import alembic_config, head_revision, upgrade


def _revise(conn: Connection, message: str, rev_id: str) -> None:
    command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)


async def _main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            await upgrade(engine)
            async with engine.begin() as conn:
                await conn.run_sync(_revise, message, f"{int(head_revision()) + 1:04d}")
        finally:
            await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m persistream.db.migrations MESSAGE\n{__doc__}")
    asyncio.run(_main(sys.argv[1]))
