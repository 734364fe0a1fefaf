"""Every stored row, read straight from a server's SQLite file: tests compare dumps to prove nothing changed."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

TABLES = ("threads", "messages", "streams", "chunks")


def dump_database(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}
