"""Running the JavaScript client's own Node tests (clients/js/test) from pytest, against servers started here."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.node import require_node
from tests.support.server import ROOT

CLIENT_DIR = ROOT / "clients" / "js"


def require_client_deps() -> str:
    """The node binary, once clients/js/node_modules is installed (see `require_node`)."""
    return require_node(CLIENT_DIR)


@dataclass
class NodeRun:
    passed: int
    failed: int
    output: str


async def run_node_tests(test_file: Path, env: dict[str, str], timeout: float = 120.0) -> NodeRun:
    """`node --test` on one file with `env` added; the counts from its TAP summary."""
    node = require_client_deps()
    process = await asyncio.create_subprocess_exec(
        node,
        "--test",
        "--test-reporter=tap",
        "--test-concurrency=1",
        str(test_file),
        cwd=CLIENT_DIR,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    output = stdout.decode(errors="replace")
    print(output)  # shown with -s, and beside a failure

    def count(name: str) -> int:
        found = re.search(rf"^# {name} (\d+)$", output, re.MULTILINE)
        assert found, f"no '# {name}' in node's output:\n{output}"
        return int(found.group(1))

    run = NodeRun(passed=count("pass"), failed=count("fail"), output=output)
    assert process.returncode == 0 and run.failed == 0, output
    return run
