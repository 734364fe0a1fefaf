"""PERSISTREAM_TABLE_PREFIX: persistream's tables under prefixed names, chosen per engine at run time.

The models keep their plain names (`threads`, `streams`, ...) and every query names them through the ORM, so the
prefix is applied where SQL is written: when a statement is compiled for an engine whose dialect was given a
prefix (`bind`), the names of persistream's own tables (never another table, nor an alias of one) come out
prefixed, in FROM clauses, column references and INSERT targets alike. Nothing happens at import time, and an
engine without a prefix compiles exactly what it compiled before. SQLAlchemy caches a compiled statement per
dialect, so two engines with two prefixes in one process never share one.

Migrations do not go through this: they name their tables, indexes and version table with the prefix themselves
(`migrations/names.py`).
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Column, Insert, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import SQLModel

from persistream.config.parsers import is_table_prefix
from persistream.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)

# Alembic's version table for persistream's history, its name fixed by the contract (the prefix goes in front).
VERSION_TABLE = "persistream_alembic_version"

_prefixes: weakref.WeakKeyDictionary[Dialect, str] = weakref.WeakKeyDictionary()


class PrefixError(ValueError):
    """A table prefix that cannot be used (its message says why)."""


def check_prefix(prefix: str) -> str:
    if not is_table_prefix(prefix):
        raise PrefixError(
            f"PERSISTREAM_TABLE_PREFIX must be a letter followed by at most 29 letters, digits or underscores, "
            f"not {prefix!r}"
        )
    return prefix


def bind(dialect: Dialect, prefix: str) -> None:
    """Compile persistream's tables with `prefix` on engines of this dialect instance (each engine has its own,
    except one the host app shares: that one serves a single prefix)."""
    check_prefix(prefix)
    existing = _prefixes.get(dialect)
    if existing is not None and existing != prefix:
        raise PrefixError(
            f"this engine already serves persistream tables prefixed {existing!r}; a deployment with the prefix "
            f"{prefix!r} needs an engine of its own"
        )
    _prefixes[dialect] = prefix


def version_table(prefix: str) -> str:
    return f"{prefix}{VERSION_TABLE}"


def _own_table_prefix(compiler: Any, table: Any) -> str:
    """The prefix to put before `table`'s name in this compilation ('' for any table that is not persistream's)."""
    prefix = _prefixes.get(compiler.dialect, "") if compiler.dialect is not None else ""
    if not prefix or not isinstance(table, Table) or table.metadata is not SQLModel.metadata:
        return ""
    return prefix if table.name in _OWN_TABLES else ""


def _renamed(compiler: SQLCompiler, sql: str, lead: str, table: Table, prefix: str) -> str:
    """`sql` with the table's quoted name that follows `lead` at its start replaced by the prefixed one."""
    quoted = compiler.preparer.quote(table.name)
    if not sql.startswith(lead + quoted):
        return sql
    return lead + compiler.preparer.quote(prefix + table.name) + sql[len(lead + quoted) :]


@compiles(Table)
def _compile_table(element: Table, compiler: SQLCompiler, **kw: Any) -> str:
    sql: str = compiler.visit_table(element, **kw)  # type: ignore[no-untyped-call]
    prefix = _own_table_prefix(compiler, element)
    return _renamed(compiler, sql, "", element, prefix) if prefix else sql


@compiles(Column)
def _compile_column(element: Column[Any], compiler: SQLCompiler, **kw: Any) -> str:
    sql = compiler.visit_column(element, **kw)
    prefix = _own_table_prefix(compiler, element.table)
    return _renamed(compiler, sql, "", element.table, prefix) if prefix else sql


@compiles(Insert)
def _compile_insert(element: Insert, compiler: SQLCompiler, **kw: Any) -> str:
    sql: str = compiler.visit_insert(element, **kw)  # type: ignore[no-untyped-call]
    table = element.table
    prefix = _own_table_prefix(compiler, table)
    return _renamed(compiler, sql, "INSERT INTO ", table, prefix) if prefix else sql  # type: ignore[arg-type]


_OWN_TABLES = frozenset(SQLModel.metadata.tables)
