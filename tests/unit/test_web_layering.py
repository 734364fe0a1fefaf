"""The web layer never imports `persistream.db`: what it needs of the database (health, gauges, server secrets,
building and closing it) comes through the chat layer's services and the engine. A quick guard over the source:
every import statement of every module under persistream/web, those inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "persistream"
FORBIDDEN = "persistream.db"


def imported(text: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute name) of every import in `text`, a module of `package`; `from X import y` gives X and X.y."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from .. import x` climbs from the module's package
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_forbidden(name: str) -> bool:
    return name == FORBIDDEN or name.startswith(FORBIDDEN + ".")


def package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def test_web_never_imports_db() -> None:
    modules = sorted((PACKAGE / "web").rglob("*.py"))
    assert len(modules) > 10, modules
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in modules
        for line, name in imported(path.read_text(encoding="utf-8"), package_of(path))
        if is_forbidden(name)
    ]
    assert not offenders, "persistream.web must not import persistream.db:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import persistream.db.database", True),
        ("from persistream.db import queries", True),
        ("from persistream import db", True),
        ("from ... import db", True),
        ("from ...db.models import SecretRow", True),
        ("from persistream import metrics", False),
        ("from persistream.dbx import y", False),
        ("from .. import auth", False),
    ],
)
def test_the_guard_sees_every_form_of_import(statement: str, forbidden: bool) -> None:
    # As written in a module of persistream.web.auth, inside a function.
    names = [name for _, name in imported(f"def f():\n    {statement}\n", "persistream.web.auth")]
    assert any(is_forbidden(name) for name in names) is forbidden, names
