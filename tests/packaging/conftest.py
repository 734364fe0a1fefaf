"""The project as a newcomer meets it: a `git clone` with nothing beside it, and the packages built from one.

These tests run the repository's own commands in subprocesses (minutes each: a fresh virtualenv, npm installs);
pip's and npm's caches make the repeats cheaper. Each step's time and the wheel's size are reported at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# The browser suite's Chromium, with every non-loopback request blocked, serves the wheel's test too.
from tests.browser.conftest import browser, chromium_path, offline, playwright  # noqa: F401
from tests.support.server import ROOT

# Set in every child's environment: a clone's test run must never start these tests again inside itself.
INSIDE = "PACKAGING_TEST_CLONE"

MEASURED: list[str] = []


def missing(reason: str) -> None:
    # In CI these tests must run: a missing tool is a broken setup, not a reason to skip.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the packaging tests)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _not_inside_a_clone_of_ourselves() -> None:
    if os.environ.get(INSIDE):
        pytest.skip("already inside a packaging test's clone")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if MEASURED:
        terminalreporter.section("packaging: measured")
        for line in MEASURED:
            terminalreporter.write_line(line)


def measure(line: str) -> None:
    MEASURED.append(line)
    print(line)


def child_env(**overrides: str) -> dict[str, str]:
    """This environment without our virtualenv, pytest's variables or the server's settings."""
    drop = ("PERSISTREAM_", "OPENAI_", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env[INSIDE] = "1"
    env.update(overrides)
    return env


@dataclass
class Ran:
    returncode: int
    output: str  # stdout and stderr together, in order
    seconds: float


def run(args: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> Ran:
    """Runs a command to its end and times it."""
    started = time.monotonic()
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=child_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(result.returncode, result.stdout, time.monotonic() - started)


def clone_head(into: Path) -> Path:
    """`git clone` of the repository's committed HEAD into an empty folder: nothing beside it, nothing uncommitted."""
    if shutil.which("git") is None:
        missing("git is not installed")
    if run(["git", "-C", ROOT, "rev-parse", "HEAD"], cwd=ROOT).returncode != 0:
        missing("the project is not a git checkout")
    if shutil.which("npm") is None:
        missing("npm is not installed (the page's libraries come from the npm registry)")
    into.mkdir(parents=True)
    project = into / "persistream"
    result = run(["git", "clone", "--quiet", ROOT, project], cwd=into)
    assert result.returncode == 0, result.output
    assert sorted(p.name for p in into.iterdir()) == ["persistream"]
    return project
