"""The configuration reference: generated from the declarations, committed up to date, and complete (every variable
the package mentions is declared, and every declared one is described)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from persistream.config.reference import COMMAND, declared_variables, main, reference_markdown

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "persistream"
SOURCE_SUFFIXES = (".py", ".js", ".html", ".mako")


def test_the_committed_page_is_what_the_generator_writes() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), f"docs/configuration.md is out of date: run `{COMMAND}`"


def test_every_variable_the_package_mentions_is_declared() -> None:
    mentioned = {
        name
        for path in PACKAGE.rglob("*")
        if path.suffix in SOURCE_SUFFIXES and "node_modules" not in path.parts
        for name in re.findall(r"PERSISTREAM_[A-Z_]*[A-Z]", path.read_text(encoding="utf-8"))
    }
    declared = {variable.name for variable in declared_variables()}
    assert "PERSISTREAM_DATABASE_URL" in mentioned  # the scan sees the package
    assert mentioned - declared == set()


def test_each_variable_is_declared_once_with_a_type_default_and_description() -> None:
    variables = declared_variables()
    names = [variable.name for variable in variables]
    assert len(names) == len(set(names))
    for variable in variables:
        assert variable.description.strip(), variable.name
        assert variable.kind.label and variable.default and variable.section, variable.name


def test_the_command_writes_and_checks_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "docs" / "configuration.md"
    assert main(["--check", str(page)]) == 1
    assert COMMAND in capsys.readouterr().err
    assert main([str(page)]) == 0
    assert page.read_text(encoding="utf-8") == reference_markdown()
    assert main(["--check", str(page)]) == 0
