"""A missing part skips a test locally and fails it under CI; no test skips any other way."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TypeGuard

import pytest

from tests.support.required import in_ci, missing, require

TESTS = Path(__file__).parent
HELPER = TESTS / "support" / "required.py"

NEEDS_A_WIDGET = """
from tests.support.required import require

def test_needs_the_widget():
    require(False, "the widget is not installed (apt install widget)")

def test_needs_nothing():
    require(True, "never shown")
"""


@pytest.mark.parametrize("value", ["true", "True", "1", "yes"])
def test_ci_is_on_when_the_variable_says_so(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", ["", "0", "false", "FALSE", "no"])
def test_ci_is_off_otherwise(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()
    monkeypatch.delenv("CI")
    assert not in_ci()


def test_a_missing_part_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="mosquitto is not installed"):
        missing("mosquitto is not installed")
    require(True, "present parts pass")


def test_a_missing_part_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="mosquitto is not installed"):
        require(False, "mosquitto is not installed")


def test_a_ci_session_with_a_missing_part_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_widget=NEEDS_A_WIDGET)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the widget is not installed (apt install widget)*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_local_session_with_a_missing_part_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_widget=NEEDS_A_WIDGET)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*the widget is not installed (apt install widget)*"])
    assert result.ret == pytest.ExitCode.OK


GIVING_UP = {"skip", "skipif", "importorskip", "xfail"}


def _gives_up(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """``pytest.skip``/``importorskip``/``xfail`` or ``pytest.mark.skip``/``skipif``/``xfail``."""
    if not isinstance(node, ast.Attribute) or node.attr not in GIVING_UP:
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "mark":
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id == "pytest"


def test_no_test_skips_but_through_the_helper() -> None:
    here = Path(__file__).resolve()
    found = [
        f"{path.relative_to(TESTS)}:{node.lineno}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.resolve() not in {HELPER.resolve(), here}
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if _gives_up(node)
    ]
    assert found == [], "use tests.support.required.require/missing (it fails under CI)"
