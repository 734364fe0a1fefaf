"""Server secrets kept in the database (the anonymous cookie's signing key), so every process agrees on them."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from persistream.db.database import Database
from persistream.db.models import SecretRow


async def get_or_create(db: Database, name: str, candidate: str) -> str:
    """The stored value of `name`; the first caller stores `candidate`, every later one (any process) reads it."""
    async with db.session() as session:
        row = await session.get(SecretRow, name)
        if row is not None:
            return row.value
        session.add(SecretRow(name=name, value=candidate))
        try:
            await session.commit()
            return candidate
        except IntegrityError:  # another process stored it first: use theirs
            await session.rollback()
    async with db.session() as session:
        stored = await session.get(SecretRow, name)
        assert stored is not None
        return stored.value
