"""Fails when the committed schema.graphql drifts from the code, or when the code breaks the public contract.

The contract checker lives beside the project (../shared/tools/check_contract.py) when the project is checked out
with its contract (CI has it); `--contract PATH` names another. A clone on its own has no contract beside it: then
the contract check is skipped with one line saying so, and the drift check alone decides. Where the checker must
be present (this project's own CI sets PERSISTREAM_REQUIRE_CONTRACT=1), its absence fails instead. `CI` alone decides
nothing: every hosted CI sets it, for a user's clone too.
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema.graphql"
DEFAULT_CHECKER = ROOT.parent / "shared" / "tools" / "check_contract.py"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contract", type=Path, help="check_contract.py to run (must exist when given)")
    parser.add_argument("--write", action="store_true", help="rewrite schema.graphql from the code")
    args = parser.parse_args()

    from persistream.schema import schema

    exported = schema.as_str() + "\n"
    if args.write:
        COMMITTED.write_text(exported, encoding="utf-8")
        print(f"wrote {COMMITTED.name}")
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if committed != exported:
        sys.stdout.writelines(
            difflib.unified_diff(committed.splitlines(True), exported.splitlines(True), "schema.graphql", "exported")
        )
        print("schema.graphql is out of date: run `python scripts/check_schema.py --write` and commit it")
        return 1
    print("schema.graphql matches the code")
    checker: Path = args.contract or DEFAULT_CHECKER
    if not checker.exists():
        if args.contract is not None or os.environ.get("PERSISTREAM_REQUIRE_CONTRACT"):
            print(f"contract checker not found at {checker}", file=sys.stderr)
            return 1
        print(f"contract check skipped: no contract checker at {checker} (a clone on its own has none beside it)")
        return 0
    return subprocess.call([sys.executable, str(checker), str(COMMITTED)])


if __name__ == "__main__":
    sys.exit(main())
