"""Every exception hearthcam defines derives from HearthcamError: one `except` catches them all;
a full disk is recognised whatever wraps it (a real tmpfs for SQLite's)."""

from __future__ import annotations

import errno
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy
import sqlalchemy.exc

import hearthcam
import hearthcam_bench
from hearthcam.errors import DiskFull, HearthcamError, StoreError, is_disk_full
from tests.support.small_disk import leave_free, small_disk


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


def test_disk_full_is_recognised_through_wrappers() -> None:
    no_room = OSError(errno.ENOSPC, "No space left on device")
    wrapped = StoreError("cannot write segment x.mp4")
    wrapped.__cause__ = no_room
    assert is_disk_full(wrapped)
    assert is_disk_full(DiskFull("no room"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(StoreError("cannot encode snapshot"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))


@pytest.mark.integration
def test_a_database_on_a_full_disk_is_disk_full(tmp_path: Path) -> None:
    # SQLite's own error, through SQLAlchemy, on a real full tmpfs.
    with small_disk(tmp_path / "disk", 256) as disk:
        engine = sqlalchemy.create_engine(f"sqlite:///{disk / 'db.sqlite'}")
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("create table t (b blob)"))
        leave_free(disk, 0)
        rows = [{"b": b"x" * 8192} for _ in range(64)]
        with pytest.raises(sqlalchemy.exc.OperationalError) as raised, engine.begin() as db:
            db.execute(sqlalchemy.text("insert into t values (:b)"), rows)
        engine.dispose()
        assert is_disk_full(raised.value)
