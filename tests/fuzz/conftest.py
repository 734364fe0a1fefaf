"""Prints how many cases each fuzz test ran in pytest's terminal summary (a passing test's own output is hidden),
so a CI log shows what the fuzz covered: `fuzz: GraphQL over HTTP: 300 cases (alice 120, ...)`."""

from __future__ import annotations

import time
from typing import Protocol

import pytest

COUNTS = pytest.StashKey[list[str]]()


class Counted(Protocol):
    cases: dict[str, int]

    def summary(self) -> str: ...


class FuzzCounts:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.started = time.monotonic()

    def record(self, name: str, counted: Counted) -> None:
        seconds = time.monotonic() - self.started
        total = sum(counted.cases.values())
        self.lines.append(f"fuzz: {name}: {total} cases in {seconds:.0f} s ({counted.summary()})")

    def note(self, name: str, cases: int, detail: str) -> None:
        seconds = time.monotonic() - self.started
        self.lines.append(f"fuzz: {name}: {cases} cases in {seconds:.0f} s ({detail})")


@pytest.fixture
def fuzz_counts(request: pytest.FixtureRequest) -> FuzzCounts:
    return FuzzCounts(request.config.stash.setdefault(COUNTS, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for line in config.stash.get(COUNTS, []):
        terminalreporter.write_line(line)
