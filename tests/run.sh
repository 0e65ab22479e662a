#!/usr/bin/env bash
# The test command: sets up .venv/ when missing, checks generated code is fresh, runs every test.
#   ./tests/run.sh [pytest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/venv.sh"
"$root/proto/generate.sh" --check
cd "$root"
exec "$root/.venv/bin/python" -m pytest -p no:cacheprovider "$@"
