"""Alembic's environment: runs the revisions on the connection ``store.migrate`` hands over.

At run time ``store.migrate`` puts an open connection, inside its transaction, in
``config.attributes["connection"]``; every revision runs on it. A developer running the
``alembic`` command line (``[tool.alembic]`` in pyproject.toml, docs/upgrading.md) names a
database with ``-x url=...`` (default: a scratch SQLite file under ``build/``).
"""

from __future__ import annotations

from hearthcam.store.migrate import run_environment
from hearthcam.store.schema import compared_on, metadata

run_environment(metadata, "alembic-dev.sqlite", include=compared_on)
