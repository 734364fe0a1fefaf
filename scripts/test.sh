#!/usr/bin/env bash
# Sets up (first time) and runs every check: lint, types, the GraphQL contract, and the whole test suite
# (unit, end-to-end against real servers, Node graphql-ws client, headless Chromium, PostgreSQL and Redis).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

echo "== lint and types"
.venv/bin/ruff check persistream tests bench
.venv/bin/ruff format --check persistream tests bench
.venv/bin/mypy

echo "== GraphQL contract"
.venv/bin/python scripts/check_schema.py

echo "== tests"
exec .venv/bin/pytest "$@"
