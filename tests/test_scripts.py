"""scripts/test.sh and .ci/run, run for real over stand-ins that record how they were called."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # runs bash

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("ruff", "mypy", "lint-imports", "pytest")
# Lint and format check: ruff twice; then types, import contracts and the suite.
ORDER = ["ruff", "ruff", "mypy", "lint-imports", "pytest"]
RECORDER = '#!/usr/bin/env bash\necho "$(basename "$0") CI=${CI:-} $*" >> "$CALLS"\n'


def _checkout(tmp_path: Path) -> Path:
    """A copy of the two scripts with setup.sh and every tool replaced by a recorder."""
    root = tmp_path / "checkout"
    for script in ("scripts/test.sh", ".ci/run"):
        (root / script).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / script, root / script)
    (root / "scripts/setup.sh").write_text("#!/usr/bin/env bash\n")
    (root / ".venv/bin").mkdir(parents=True)
    for tool in TOOLS:
        (root / ".venv/bin" / tool).write_text(RECORDER)
    for path in [root / "scripts/setup.sh", *(root / ".venv/bin").iterdir()]:
        path.chmod(0o755)
    return root


def _run(command: list[str], tmp_path: Path, ci: str | None) -> list[str]:
    calls = tmp_path / "calls.txt"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CALLS"] = str(calls)
    if ci is not None:
        env["CI"] = ci
    subprocess.run(command, env=env, check=True, timeout=60)
    return calls.read_text().splitlines()


def test_test_sh_runs_every_check_and_hands_its_arguments_to_pytest(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    calls = _run([str(root / "scripts/test.sh"), "-m", "not integration", "-x"], tmp_path, None)
    assert [c.split()[0] for c in calls] == ORDER
    assert calls[-1] == "pytest CI= --durations=25 -m not integration -x"


def test_ci_run_calls_test_sh_with_ci_set(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    calls = _run([str(root / ".ci/run")], tmp_path, None)
    assert calls[-1] == "pytest CI=true --durations=25 -p no:cacheprovider"
    assert _run([str(root / ".ci/run")], tmp_path, "1")[-1].startswith("pytest CI=1 ")
