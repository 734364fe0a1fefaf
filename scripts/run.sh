#!/usr/bin/env bash
# Sets up (first time) and runs the server on the embedded defaults: SQLite file ./persistream.db, in-process
# broadcast, and the offline demo model unless OPENAI_API_KEY is set. Extra arguments go to `persistream serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/persistream serve "$@"
