"""The one place a test may give up for a missing part (Chromium, GStreamer, mosquitto, footage).

On a developer's machine a missing part skips the test that needs it. Under CI (the ``CI``
environment variable set to anything but ``""``, ``0`` or ``false``; ``.ci/run`` sets it) the same
message fails the test instead: CI installs every part, so a missing one is a broken set-up, and a
suite that skipped its integration tests must not go green. Tests never call ``pytest.skip`` or
``skipif`` themselves (tests/test_required.py checks that).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

CI_OFF = frozenset({"", "0", "false", "no"})


def in_ci() -> bool:
    """Whether this run is CI, where nothing may be missing."""
    return os.environ.get("CI", "").strip().lower() not in CI_OFF


def missing(what: str) -> NoReturn:
    """Gives up on the test because ``what`` is missing: a skip locally, a failure under CI."""
    if in_ci():
        pytest.fail(f"{what} [CI: a missing part is a broken set-up, not a skip]", pytrace=False)
    pytest.skip(what)


def require(condition: bool, what: str) -> None:
    """Goes on only if ``condition`` holds; otherwise ``missing(what)``."""
    if not condition:
        missing(what)
