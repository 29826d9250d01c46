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
# The no-floor disk-full walk runs in a process of its own, first: in the full suite it stalls
# after the tests before it (retention frees nothing; alone it passes, also on a loaded machine).
# The cause is not found yet (see the issue 14 note); isolating it keeps it checked meanwhile.
ISOLATED=tests/test_disk_full.py::test_with_no_floor_a_full_disk_is_reported_once_freed_and_recording_goes_on
echo "== pytest (isolated)"
status=0; pytest "$ISOLATED" "$@" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 5 ] || exit "$status"  # 5: deselected by the arguments
echo "== pytest";       pytest --durations=25 --deselect "$ISOLATED" "$@"
