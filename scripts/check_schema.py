"""Fails when the committed schema.graphql drifts from the code, or when the code breaks the public contract.

The contract checker lives beside the project (../shared/tools/check_contract.py) when the project is checked out
with its contract; `--contract PATH` names another.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema.graphql"
DEFAULT_CHECKER = ROOT.parent / "shared" / "tools" / "check_contract.py"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contract", type=Path, default=DEFAULT_CHECKER, help="check_contract.py to run")
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
    if not args.contract.exists():
        print(f"contract checker not found at {args.contract}", file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, str(args.contract), str(COMMITTED)])


if __name__ == "__main__":
    sys.exit(main())
