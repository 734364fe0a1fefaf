"""The shape of the package, checked: imports point one way, modules stay small, no block is written twice.

The import contracts are declared in pyproject.toml (`[tool.importlinter]`) and checked by import-linter; the map
they keep is in docs/architecture.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.support.server import ROOT

PACKAGE = ROOT / "persistream"
MAX_MODULE_LINES = 400
REPEAT_LINES = 6
# Alembic revisions are written once, never edited, and open with the same generated header.
NOT_CHECKED_FOR_REPEATS = (PACKAGE / "db" / "migrations" / "versions",)
# Lines that carry no logic of their own: a run of six of them says nothing about repeated code.
TRIVIAL = re.compile(r"^([)\]}],?|[)\]}]:|\"\"\"|else:|try:|finally:|pass|return|continue|break|\.\.\.)$")


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    declared = (ROOT / "pyproject.toml").read_text(encoding="utf-8").count("[[tool.importlinter.contracts]]")
    assert declared >= 5
    assert f"Contracts: {declared} kept, 0 broken." in report, report[-4000:]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in package_modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these modules by job: {long}"


def meaningful_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines that carry code: blank lines, comments, imports and lone punctuation out,
    white space folded."""
    kept = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = " ".join(raw.split())
        if not line or line.startswith("#") or line.startswith(("import ", "from ")) or TRIVIAL.match(line):
            continue
        kept.append((number, line))
    return kept


def repeated_blocks(paths: list[Path], size: int, root: Path = ROOT) -> list[str]:
    """Every run of `size` meaningful lines that stands, to the letter, in two places that do not overlap."""
    places: dict[tuple[str, ...], list[tuple[Path, int, int]]] = defaultdict(list)
    for path in paths:
        lines = meaningful_lines(path)
        for start in range(len(lines) - size + 1):
            window = lines[start : start + size]
            places[tuple(text for _, text in window)].append((path, window[0][0], window[-1][0]))
    found = []
    for block, where in places.items():
        first = where[0]
        for other in where[1:]:
            if other[0] != first[0] or other[1] > first[2]:
                found.append(
                    f"{first[0].relative_to(root)}:{first[1]}-{first[2]} ~ "
                    f"{other[0].relative_to(root)}:{other[1]}-{other[2]}: {block[0]!r} ..."
                )
                break
    return found


def test_no_block_of_six_lines_is_written_twice_in_the_package() -> None:
    paths = [p for p in package_modules() if not any(p.is_relative_to(skip) for skip in NOT_CHECKED_FOR_REPEATS)]
    repeats = repeated_blocks(paths, REPEAT_LINES)
    assert repeats == [], "call one piece of code instead:\n" + "\n".join(repeats)


def test_the_repeat_check_finds_a_repeated_block(tmp_path: Path) -> None:
    body = "\n".join(f"    total = total + {i} * factor" for i in range(REPEAT_LINES))
    first = tmp_path / "a.py"
    second = tmp_path / "b.py"
    first.write_text(f"def one(total, factor):\n{body}\n    return total\n", encoding="utf-8")
    second.write_text(f"# another module\n\ndef two(total, factor):\n{body}\n", encoding="utf-8")
    assert len(repeated_blocks([first, second], REPEAT_LINES, tmp_path)) == 1
    assert repeated_blocks([first], REPEAT_LINES, tmp_path) == []
