#!/usr/bin/env bash
# The test command (README, CI): set up if needed, then lint, format check, types, import
# contracts and the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check";   ruff check src tests
echo "== ruff format";  ruff format --check src tests
echo "== mypy --strict"; mypy
echo "== import contracts"; lint-imports
echo "== pytest";       pytest "$@"
