"""Every exception hearthcam defines derives from HearthcamError: one `except` catches them all."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import hearthcam
import hearthcam_bench
from hearthcam.errors import HearthcamError


def _modules(package: ModuleType) -> list[str]:
    # __main__ runs the CLI when imported; it defines no exceptions.
    found = pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    return [package.__name__, *(m.name for m in found if not m.name.endswith(".__main__"))]


def _exceptions(module_name: str) -> list[type[Exception]]:
    module = importlib.import_module(module_name)
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == module_name  # defined here, not imported
    ]


MODULES = _modules(hearthcam) + _modules(hearthcam_bench)


def test_the_walk_finds_the_packages_exceptions() -> None:
    names = {e.__name__ for m in MODULES for e in _exceptions(m)}
    assert {"HearthcamError", "ConfigError", "TransitionError", "BenchError"} <= names
    assert len(MODULES) > 50  # the walk went into the subpackages


def test_every_exception_derives_from_hearthcam_error() -> None:
    strays = [
        f"{module_name}.{e.__qualname__}"
        for module_name in MODULES
        for e in _exceptions(module_name)
        if not issubclass(e, HearthcamError)
    ]
    assert strays == [], "derive these from hearthcam.errors.HearthcamError"


def test_transition_errors_are_still_value_errors() -> None:
    from hearthcam.annotate.workbench import LeaseTransitionError
    from hearthcam.privacy.lifecycle import TransitionError

    assert issubclass(LeaseTransitionError, ValueError)
    assert issubclass(TransitionError, ValueError)
