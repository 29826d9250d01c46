"""The whole schema: every table module of the store, imported once, and their one ``metadata``.

Alembic compares migrations with this metadata (``compare_metadata``, autogenerate), so a new
table module belongs in the import list below. Only store modules are imported: the store never
imports the layers above it (vault, viewlog, learn, accounts, web).
"""

# No ``from __future__ import annotations`` here: it would shadow the ``annotations`` module.
from collections.abc import Callable

from sqlalchemy import MetaData

# Imported for their tables: each declares its rows on ``db.Base``.
from hearthcam.store import (  # noqa: F401
    accounts,
    annotations,
    enrolment,
    event_reviews,
    exports,
    familiar,
    hub_deliveries,
    keys,
    pending_clips,
    push,
    registry,
    settings,
    shares,
    viewlog,
)
from hearthcam.store.db import Base

metadata: MetaData = Base.metadata


def table_names() -> set[str]:
    """The name of every table hearthcam keeps."""
    return set(metadata.tables)


def compared_on(dialect: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """Alembic's ``include_object`` for comparing a ``dialect`` database with the models: an
    object the models make on another dialect only (``ddl_if(dialect=...)``, such as SQLite's
    timeline index) is not expected there."""

    def include(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return only is None or only.dialect is None or only.dialect == dialect

    return include
