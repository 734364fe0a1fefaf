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
# The generator examples (docs/generators.md), as strictly as the package: what users copy type-checks.
.venv/bin/mypy examples/custom_generator.py examples/pydantic_ai_agent.py

echo "== GraphQL contract"
.venv/bin/python scripts/check_schema.py

echo "== tests"
exec .venv/bin/pytest "$@"
