"""The chaos benchmark's short version: a few dozen randomized fault runs against real server processes (four on
PostgreSQL and Redis, one on SQLite), every one held to the contract by `bench.chaos.checker`: answers with
reasoning and tool calls, subscribers resuming by offset and by cursor, branch siblings. The seed is random and
printed; a failure prints the command that replays the failing run."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest

from bench.chaos.plan import KINDS
from tests.support.server import ROOT

pytestmark = pytest.mark.scale

RUNS = 24  # every fault kind as the primary one, some twice


def counts(output: str, label: str) -> dict[str, int]:
    line = re.search(rf"^{label}: (.*)$", output, re.MULTILINE)
    assert line, f"no '{label}' line in:\n{output[-3000:]}"
    return {key.strip(): int(value) for key, value in re.findall(r"([\w -]+?)=(\d+)", line.group(1))}


def test_a_short_chaos_run_keeps_the_contract() -> None:
    seed = random.randrange(10**8)
    print(f"chaos seed {seed}")
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--runs", str(RUNS), "--seed", str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout
    assert done.returncode == 0, f"seed {seed}:\n{output[-20000:]}\n{done.stderr[-3000:]}"
    assert f"chaos: seed {seed}, {RUNS} runs" in output
    assert re.search(r"^violations: 0 ", output, re.MULTILINE), output
    by_kind = counts(output, "by fault kind")
    assert [str(kind) for kind in KINDS if not by_kind.get(str(kind))] == [], by_kind
    by_status = counts(output, "by final status")
    assert sum(1 for status in ("DONE", "ERROR", "TIMEOUT", "CANCELLED") if by_status.get(status, 0)) >= 3, by_status
    assert by_status.get("left live", 0) == 0, by_status
    by_transport = counts(output, "by transport")
    assert all(by_transport.get(t, 0) >= 1 for t in ("ws", "ws-legacy", "sse", "multipart")), by_transport
    by_part = counts(output, "answers with a part of kind")
    assert all(by_part.get(k, 0) >= 1 for k in ("TEXT", "REASONING", "TOOL_CALL", "TOOL_RESULT")), by_part
    by_branch = counts(output, "by branch")
    assert by_branch.get("regenerate", 0) + by_branch.get("edit", 0) >= 1, by_branch
    by_resume = counts(output, "subscribers by resume")
    assert by_resume.get("offset", 0) >= 1 and by_resume.get("cursor", 0) >= 1, by_resume
    by_target = counts(output, "by target")
    assert by_target.get("PostgreSQL", 0) >= 1 and by_target.get("SQLite", 0) >= 1, by_target
