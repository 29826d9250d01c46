"""The hub's schema migrations: the hub's tables migrated by Alembic at open, as the home's are.

A hub made before its tables had migrations (``metadata.create_all`` at every open, no
``hub_alembic_version``) is adopted at the baseline with every row; a fresh database goes to
head; two processes opening one at once migrate it once; a database a newer version migrated is
refused in one line; and the schema the revisions build is the one ``hub.registry`` declares, so
a change to a hub table without a revision fails here. On SQLite files and a real PostgreSQL.
"""

from __future__ import annotations

import io
import pkgutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, create_engine, insert, inspect, select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import hearthcam
from hearthcam.cli import cli
from hearthcam.errors import HearthcamError
from hearthcam.hub.identity import HubError, load_or_create
from hearthcam.hub.registry import (
    SCHEMA,
    VERSION_TABLE,
    HubRegistry,
    hub_annotations,
    hub_clip_checks,
    hub_clip_features,
    hub_clips,
    hub_leases,
    hub_models,
    metadata,
    open_hub_engine,
)
from hearthcam.store.db import Store
from hearthcam.store.engine import build_engine
from hearthcam.store.migrate import MIGRATIONS, alembic_config, current_revision, head
from hearthcam.store.schema import compared_on
from hearthcam.store.schema import metadata as home_metadata
from tests.support.postgres import new_database

ROOT = Path(__file__).parents[2]
HUB_TABLES = set(metadata.tables)
NOW = 1_765_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, or one on the tests' real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite'}"
    host: str = request.getfixturevalue("postgres_host")
    return new_database(host)


@contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def hub_revision(url: str) -> str | None:
    with engine_of(url) as engine, engine.connect() as connection:
        return current_revision(connection, SCHEMA)


def home_revision(url: str) -> str | None:
    with engine_of(url) as engine, engine.connect() as connection:
        return current_revision(connection)


def tables(url: str) -> set[str]:
    with engine_of(url) as engine, engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _hub_only(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    return kind != "table" or name in metadata.tables


def hub_diff(url: str, declared: MetaData = metadata) -> list[Any]:
    """What Alembic's autogenerate finds between the hub's tables and ``declared`` (empty:
    equal); the home's tables in the same database are not the hub's to compare."""
    with engine_of(url) as engine, engine.connect() as connection:
        opts = {"compare_type": True, "include_object": _hub_only}
        return list(compare_metadata(MigrationContext.configure(connection, opts=opts), declared))


def home_diff(url: str) -> list[Any]:
    """The same for the home's schema in the database (the hub's tables left out)."""
    with engine_of(url) as engine, engine.connect() as connection:
        home = compared_on(connection.dialect.name)

        def include(obj: object, name: str | None, kind: str, reflected: bool, o: object) -> bool:
            if kind == "table" and name in HUB_TABLES | {VERSION_TABLE}:
                return False
            return home(obj, name, kind, reflected, o)

        opts = {"compare_type": True, "include_object": include}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, home_metadata))


def backups(url: str) -> list[Path]:
    path = Path(url.removeprefix("sqlite:///"))
    return sorted(path.parent.glob(f"{path.name}.pre-*.bak"))


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# A hub as 43e2160 (the last version before the hub's migrations) made one ----------------------


def made_before_migrations(url: str, tmp_path: Path, only: Callable[[str], bool] = bool) -> None:
    """A hub database as the version before migrations left it: the home's schema for the
    accounts and view log (``Store.open``, as ``hub serve`` opened it first), the hub's tables
    made by ``create_all`` (those ``only`` keeps), no ``hub_alembic_version``, and rows."""
    Store.open(url).close()
    engine = build_engine(url, 30.0, wal=True)
    try:
        metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if only(t.name)])
        present = set(inspect(engine).get_table_names())
        registry = HubRegistry(engine)  # over the engine as given: nothing migrated
        home = load_or_create(tmp_path / "home.pem")
        home_id = registry.link(registry.new_code(NOW, note="for Ann"), home.public_b64, "A", NOW)
        registry.new_code(NOW, note="unused")
        rows: dict[Any, dict[str, Any]] = {
            hub_clips: {
                "home_id": home_id, "clip_id": "c1", "receipt_digest": "ab" * 32,
                "received_at": NOW, "keep_until": 2**40, "size": 5_000_000_000,
                "sha256": "cd" * 32, "file": "f" * 32, "key": bytes(range(32)),
            },
            hub_clip_features: {"home_id": home_id, "clip_id": "c1", "version": 1,
                                "vector": "1,0.5,3"},
            hub_clip_checks: {"home_id": home_id, "clip_id": "c1", "state": "passed",
                              "checked_at": NOW, "reason": "", "receipt": None},
            hub_models: {"id": "m" * 32, "created_at": NOW, "manifest": "{}",
                         "signature": b"\x01" * 64, "payload": b"\x00onnx", "retired_at": None},
            hub_leases: {"id": "l" * 32, "annotator_id": 7, "home_id": home_id, "clip_id": "c1",
                         "state": "done", "taken_at": NOW, "expires_at": NOW + 600,
                         "ended_at": NOW + 60},
            hub_annotations: {"home_id": home_id, "clip_id": "c1", "lease_id": "l" * 32,
                              "annotator_id": 7, "verdict": "threat", "reason": None,
                              "keyframes": '[{"frame": 0, "boxes": []}]', "created_at": NOW},
        }  # fmt: skip
        with engine.begin() as connection:
            for table, row in rows.items():
                if table.name in present:
                    connection.execute(insert(table).values(row))
    finally:
        engine.dispose()
    assert hub_revision(url) is None


def hub_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every hub table there, in primary key order."""
    with engine_of(url) as engine, engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(
                    select(table).order_by(*table.primary_key.columns)
                ).all()
            ]
            for table in metadata.sorted_tables
            if table.name in present
        }


def test_a_hub_made_before_migrations_is_adopted_with_every_row(url: str, tmp_path: Path) -> None:
    made_before_migrations(url, tmp_path)
    before = hub_rows(url)
    home_at = home_revision(url)

    registry = HubRegistry.open(url)
    try:
        key_id = load_or_create(tmp_path / "home.pem").key_id
        assert registry.public_key(key_id) is not None  # read through today's code
    finally:
        registry.close()

    assert hub_revision(url) == head(SCHEMA)
    assert hub_rows(url) == before
    assert set(before) == HUB_TABLES
    assert all(before.values())
    assert hub_diff(url) == []
    assert home_revision(url) == home_at == head()  # the home's schema is left as it was
    assert home_diff(url) == []
    if is_sqlite(url):
        [copy] = backups(url)
        assert copy.name.startswith("hub.sqlite.pre-hub-legacy-")
        assert hub_rows(f"sqlite:///{copy}") == before
        assert hub_revision(f"sqlite:///{copy}") is None


def test_tables_an_older_hub_never_made_are_created(url: str, tmp_path: Path) -> None:
    # The first hubs (e62dbf7) had the link codes and homes only; later versions added tables.
    first = {"hub_link_codes", "hub_homes"}
    made_before_migrations(url, tmp_path, only=first.__contains__)
    before = hub_rows(url)
    assert set(before) == first

    open_hub_engine(url, "the hub database").dispose()

    assert hub_revision(url) == head(SCHEMA)
    after = hub_rows(url)
    assert {name: after[name] for name in first} == before
    assert set(after) == HUB_TABLES
    assert hub_diff(url) == []


def test_a_fresh_database_goes_to_head_with_exactly_the_hub_tables(url: str) -> None:
    open_hub_engine(url, "the hub database").dispose()

    assert hub_revision(url) == head(SCHEMA)
    assert tables(url) == HUB_TABLES | {VERSION_TABLE}
    assert hub_diff(url) == []
    if is_sqlite(url):
        assert backups(url) == []  # nothing to keep yet


def test_a_fresh_hub_opened_as_hub_serve_opens_it_holds_both_schemas_at_head(url: str) -> None:
    # ``hub serve`` (cli.hub._hub_database) opens the home's schema first, for the hub's
    # accounts and view log, then the hub's tables: each at its own head, in its own table.
    for _start in range(2):
        Store.open(url).close()
        HubRegistry.open(url).close()

    assert hub_revision(url) == head(SCHEMA)
    assert home_revision(url) == head()
    assert hub_diff(url) == []
    assert home_diff(url) == []
    assert tables(url) == HUB_TABLES | {VERSION_TABLE} | set(home_metadata.tables) | {
        "alembic_version"
    }
    if is_sqlite(url):
        assert backups(url) == []  # no hub table was there to keep when its tables came


def test_a_hub_table_changed_without_a_revision_is_found(tmp_path: Path) -> None:
    """What makes the comparison above worth having: a column added to the declared tables but
    not by a revision is a difference."""
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    open_hub_engine(url, "the hub database").dispose()
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["hub_homes"].append_column(Column("country", Integer, nullable=True))

    [difference] = hub_diff(url, changed)

    assert difference[0] == "add_column"
    assert difference[2:] == ("hub_homes", changed.tables["hub_homes"].c.country)


# Two processes at once ------------------------------------------------------------------------

OPENER = """
import logging, sys, time
from pathlib import Path

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
from hearthcam.hub.registry import HubRegistry

url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.002)
HubRegistry.open(url).close()
"""


def test_two_processes_opening_a_fresh_database_at_once_migrate_it_once(
    url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, str(flag), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for flag in ready
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert [process.returncode for process in processes] == [0, 0], outputs
    logged = "".join(err for _out, err in outputs)
    assert logged.count("the hub's database migrated from empty to") == 1, logged
    assert logged.count(f"Running upgrade  -> {head(SCHEMA)}") == 1, logged
    assert hub_revision(url) == head(SCHEMA)
    assert hub_diff(url) == []


# A database of a newer version ----------------------------------------------------------------


def test_a_database_a_newer_version_migrated_is_refused_untouched(url: str) -> None:
    open_hub_engine(url, "the hub database").dispose()
    with engine_of(url) as engine, engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'f00dfeedbeef'"))
    before = hub_rows(url)

    with pytest.raises(HubError) as refused:
        HubRegistry.open(url)

    message = str(refused.value)
    assert isinstance(refused.value, HearthcamError)
    assert "\n" not in message
    assert "the hub's database is at revision f00dfeedbeef" in message
    assert "run the newer version" in message
    assert hub_revision(url) == "f00dfeedbeef"
    assert hub_rows(url) == before


def test_the_cli_refuses_a_newer_hub_database_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    Store.open(url).close()
    open_hub_engine(url, "the hub database").dispose()
    with closing(sqlite3.connect(tmp_path / "hub.sqlite")) as connection, connection:
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = 'f00dfeedbeef'")

    result = CliRunner().invoke(cli, ["hub", "annotator", "list", "--database", url])

    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: hub annotator list: cannot open the hub database in ")
    assert "f00dfeedbeef" in line
    assert "restore the backup made before that upgrade, or run the newer version" in line


# Failure, downgrade and the SQL for a DBA -----------------------------------------------------


def test_a_failed_migration_leaves_an_old_hub_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    made_before_migrations(url, tmp_path, only={"hub_link_codes", "hub_homes"}.__contains__)
    before = tables(url), hub_rows(url)
    real_upgrade: Callable[..., None] = command.upgrade

    def upgrade_then_fail(config: Any, target: str) -> None:
        real_upgrade(config, target)
        raise RuntimeError("power cut in the middle of a migration")

    monkeypatch.setattr(command, "upgrade", upgrade_then_fail)

    with pytest.raises(RuntimeError, match="power cut"):
        open_hub_engine(url, "the hub database")

    assert (tables(url), hub_rows(url)) == before
    assert hub_revision(url) is None


def test_the_baseline_downgrades_to_nothing_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    Store.open(url).close()
    open_hub_engine(url, "the hub database").dispose()
    with engine_of(url) as engine, engine.begin() as connection:
        command.downgrade(alembic_config(connection, SCHEMA), "base")
    assert tables(url) == set(home_metadata.tables) | {"alembic_version", VERSION_TABLE}

    open_hub_engine(url, "the hub database").dispose()

    assert hub_revision(url) == head(SCHEMA)
    assert hub_diff(url) == []
    assert home_revision(url) == head()


def test_the_hub_revisions_render_as_postgresql_sql_for_a_dba() -> None:
    out = io.StringIO()
    config = Config(output_buffer=out, cmd_opts=Namespace(x=["url=postgresql+psycopg://"]))
    config.set_main_option("script_location", str(SCHEMA.scripts))

    command.upgrade(config, "head", sql=True)

    sql = out.getvalue()
    assert sql.count("CREATE TABLE") == len(HUB_TABLES) + 1  # and hub_alembic_version
    assert f"CREATE TABLE {VERSION_TABLE}" in sql
    assert "alembic_version (" not in sql.replace(f"{VERSION_TABLE} (", "")  # not the home's
    assert f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('{head(SCHEMA)}')" in sql


# How the scripts ship -------------------------------------------------------------------------


def test_the_hub_schema_stays_apart_from_the_homes() -> None:
    assert SCHEMA.version_table != "alembic_version"
    assert SCHEMA.lock != 0x6865617274  # the home's migration lock (store.migrate)
    assert not HUB_TABLES & set(home_metadata.tables)  # one database can hold both
    assert SCHEMA.tables == HUB_TABLES


def test_the_package_data_ships_every_migration_script() -> None:
    """Alembic loads the scripts by path from the installed package: each must match a
    package-data pattern (they are not packages, so setuptools finds none of them itself)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["hearthcam"]
    package = ROOT / "src" / "hearthcam"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    for scripts in (MIGRATIONS, SCHEMA.scripts):
        files = {p for p in scripts.rglob("*") if p.suffix in (".py", ".mako")}
        assert scripts / "env.py" in files
        assert scripts / "script.py.mako" in files
        assert any(p.parent.name == "versions" for p in files)
        assert files - shipped == set()


def test_a_walk_over_the_package_never_runs_the_hub_migration_scripts() -> None:
    walked = [m.name for m in pkgutil.walk_packages(hearthcam.__path__, "hearthcam.")]

    assert "hearthcam.hub.registry" in walked
    assert not [name for name in walked if "migrations" in name]
    assert (SCHEMA.scripts / "env.py").is_file()
