"""A `git clone` with nothing beside it passes the README's test command: the contract check (whose checker lives
beside the project in CI) says it is skipped, and the committed schema's drift check still runs, and still fails on
drift. The suite is cut to tests/unit to save time; setup, lint, types and both schema checks run in full."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import child_env, clone_head, measure, run

SKIP_LINE = "contract check skipped: no contract checker at "
DRIFT_OK = "schema.graphql matches the code"
CONTRACT_TEST = "tests/e2e/test_cli.py::test_export_schema_is_committed_and_keeps_the_contract"


@pytest.mark.packaging
def test_a_lone_clone_passes_the_readme_test_command_and_still_catches_schema_drift(tmp_path: Path) -> None:
    project = clone_head(tmp_path / "empty")
    assert not (project.parent / "shared").exists()

    # The README's command as any hosted CI runs it (`CI=true`), with arguments for pytest as the README describes:
    # a subset, with the contract test that needs the checker beside the project, and no cache files.
    tested = run(
        ["scripts/test.sh", "tests/unit", CONTRACT_TEST, "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=child_env(CI="true"),
        timeout=1200,
    )
    measure(f"fresh clone: scripts/test.sh tests/unit took {tested.seconds:.0f} s (setup, lint, types, schema, tests)")
    assert tested.returncode == 0, tested.output[-6000:]
    lines = tested.output.splitlines()
    assert [line for line in lines if line.startswith(SKIP_LINE)] != [], tested.output[-6000:]
    assert sum(1 for line in lines if "contract check skipped" in line) == 1
    assert DRIFT_OK in lines
    assert "== tests" in lines
    assert re.search(r"^\d+ passed, 1 skipped", tested.output, re.MULTILINE), tested.output[-3000:]
    assert "SKIPPED" in tested.output and "contract checker is not beside the project" in tested.output
    assert "failed" not in lines[-1] and "error" not in lines[-1], lines[-1]

    # Drift: the committed schema no longer matches the code, so the check fails and says how to fix it.
    schema = project / "schema.graphql"
    with schema.open("a", encoding="utf-8") as f:
        f.write("scalar Drifted\n")
    drifted = run([project / ".venv" / "bin" / "python", "scripts/check_schema.py"], cwd=project)
    assert drifted.returncode == 1, drifted.output
    assert "schema.graphql is out of date" in drifted.output
    assert "+scalar Drifted" not in drifted.output and "-scalar Drifted" in drifted.output
    assert DRIFT_OK not in drifted.output
