#!/usr/bin/env bash
# The test command (README, CI): set up if needed, then lint, format check, types, import
# contracts and the test suite. Extra arguments go to pytest (e.g. -m "not integration", the fast
# lane). --durations=25 ends the output with the slowest tests, so CI logs show where time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check";   ruff check src tests
echo "== ruff format";  ruff format --check src tests
echo "== mypy --strict"; mypy
echo "== import contracts"; lint-imports
echo "== pytest";       pytest --durations=25 "$@"
