"""Schema migrations at start: a database written before migrations existed is adopted and
upgraded with every row intact and a copy kept; a fresh one goes to head; head matches the
models.

The legacy fixture (tests/data/migrations) was written by commit 17fe8fb through its own store
APIs; tests/support/legacy_db.py made it and says how to make it again. The one change of values
on purpose: media paths become relative to the data directory (``upgraded``; the revision's own
cases are in test_relative_media_paths.py).
"""

from __future__ import annotations

import copy
import io
import json
import pkgutil
import shutil
import sqlite3
import stat
import threading
from argparse import Namespace
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import hearthcam
from hearthcam.errors import StoreError
from hearthcam.learn.registry import ModelRegistry
from hearthcam.store.accounts import AccountStore
from hearthcam.store.annotations import AnnotationStore, LeaseRecord, LeaseTaken
from hearthcam.store.backup import backup_path
from hearthcam.store.db import Store
from hearthcam.store.engine import build_engine
from hearthcam.store.migrate import MIGRATIONS, alembic_config, head, migrate
from hearthcam.store.schema import compared_on, metadata, table_names
from hearthcam.vault.keyring import Keyring
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import load_public_key
from tests.support.legacy_db import (
    DATABASE,
    DAY,
    OLD_DATA_DIR,
    ROWS,
    TEST_SECRET,
    VIEWLOG_KEY,
    dump,
)
from tests.support.postgres import new_database

FIXTURE = Path(__file__).parents[1] / "data" / "migrations"
MEDIA_COLUMNS = {"segments": ("path",), "events": ("clip", "snapshot")}
# Tables revisions after the legacy fixture added (r20261203_event_reviews,
# r20261203_enrolment_links, r20261203_exports): not in it.
LATER_TABLES = {"event_reviews", "enrolment_links", "exports", "export_audit"} | {
    "familiar_switch", "familiar_people", "familiar_faces", "familiar_sightings", "hub_deliveries",
}  # fmt: skip
# Columns revisions after the legacy fixture added (r20261203_share_prelabels,
# r20261203_share_history): not in it.
LATER_COLUMNS = {"shares": ("prelabels", "history")}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy of the legacy database, as a home running 17fe8fb has it."""
    return Path(shutil.copyfile(FIXTURE / DATABASE, tmp_path / "hearthcam.sqlite"))


@pytest.fixture
def legacy_rows() -> dict[str, Any]:
    rows: dict[str, Any] = json.loads((FIXTURE / ROWS).read_text())
    return rows


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def open_and_close(path: Path) -> None:
    Store.open(url(path)).close()


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.pre-*.bak"))


def revision(path: Path) -> str | None:
    engine = create_engine(url(path))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def schema_diff(path: Path) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models (empty: equal)."""
    engine = create_engine(url(path))
    try:
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_object": compared_on(connection.dialect.name)}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def kept(migrated: dict[str, Any], legacy: dict[str, Any]) -> dict[str, Any]:
    """The migrated rows of the legacy tables, cut down to the columns those tables had (a later
    revision may add columns; every value the legacy database held must still be there)."""
    cut = {}
    for name, table in legacy.items():
        columns = migrated[name]["columns"]
        positions = [columns.index(c) for c in table["columns"]]
        rows = [[row[i] for i in positions] for row in migrated[name]["rows"]]
        cut[name] = {"columns": table["columns"], "rows": rows}
    return cut


def upgraded(legacy: dict[str, Any]) -> dict[str, Any]:
    """The legacy rows as the revisions leave them: media paths relative to the data directory
    (r20261203_relative_media_paths), every other value as it was."""
    rows = copy.deepcopy(legacy)
    for name, columns in MEDIA_COLUMNS.items():
        table = rows[name]
        for column in columns:
            at = table["columns"].index(column)
            for row in table["rows"]:
                if row[at] is not None:
                    row[at] = Path(row[at]).relative_to(OLD_DATA_DIR).as_posix()
    return rows


def sql_dump(path: Path) -> list[str]:
    """The database as SQL text: every table's schema and every row."""
    with closing(sqlite3.connect(path)) as connection:
        return list(connection.iterdump())


def test_fixture_holds_rows_in_every_table_the_models_declare(
    legacy_rows: dict[str, Any],
) -> None:
    assert set(legacy_rows) == table_names() - LATER_TABLES
    assert all(table["rows"] for table in legacy_rows.values())
    assert (FIXTURE / DATABASE).stat().st_size < 256 * 1024
    assert revision(FIXTURE / DATABASE) is None  # made before migrations: no alembic_version


def test_legacy_database_is_migrated_to_head_with_every_row_intact(
    legacy: Path, legacy_rows: dict[str, Any]
) -> None:
    before = sql_dump(legacy)

    open_and_close(legacy)

    assert revision(legacy) == head()
    migrated = kept(dump(legacy), legacy_rows)
    assert migrated == upgraded(legacy_rows)
    # The fixture has media paths as that version wrote them (absolute), and they became relative.
    first = OLD_DATA_DIR / "recordings" / "front" / DAY / "16-00-00.000.mp4"
    assert legacy_rows["segments"]["rows"][0][2] == str(first)
    assert [row[2] for row in migrated["segments"]["rows"]] == [
        f"recordings/front/{DAY}/16-00-{s:02d}.000.mp4" for s in (0, 10, 20)
    ]
    columns = migrated["events"]["columns"]
    threat = next(row for row in migrated["events"]["rows"] if row[0] == "ev-threat")
    assert threat[columns.index("clip")] == f"clips/front/{DAY}/ev-threat.mp4"
    assert threat[columns.index("snapshot")] == f"snapshots/front/{DAY}/ev-threat.jpg"
    assert schema_diff(legacy) == []
    [copy] = backups(legacy)
    assert copy.name.startswith("hearthcam.sqlite.pre-legacy-")
    assert sql_dump(copy) == before
    assert dump(copy) == legacy_rows
    with closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_migrated_rows_read_through_the_new_code(legacy: Path) -> None:
    data = legacy.parent / "data"  # not where the home had it: media paths follow it
    with Store.open(url(legacy), data_dir=data) as store:
        event = store.get_event("ev-threat")
        assert event is not None
        assert event.tracks[0].votes == (("person", 30.5), ("dog", 1.25))
        assert event.clip == data / "clips" / "front" / DAY / "ev-threat.mp4"
        assert event.snapshot == data / "snapshots" / "front" / DAY / "ev-threat.jpg"
        segments = store.oldest_segments(10)
        assert segments[0].path == data / "recordings" / "front" / DAY / "16-00-00.000.mp4"
        assert all(s.path.is_relative_to(data) for s in segments)
        assert store.is_finished("ev-open") is False
        with AccountStore(store).read() as tx:
            alice = tx.user_by_key("alice")
            assert alice is not None
            assert tx.recovery_codes_left(alice.id) == 2
        keyring = Keyring(store, TEST_SECRET)
        # Blob ids were relative already: a segment's row and its key name the same file.
        assert len(keyring.media_key(f"recordings/front/{DAY}/16-00-00.000.mp4")) == 32
        assert keyring.blob_ids(household_id=1) == [
            f"clips/front/{DAY}/ev-threat.mp4",
            f"recordings/front/{DAY}/16-00-00.000.mp4",
        ]
        assert store.media_paths.to_row(segments[0].path) == keyring.blob_ids(household_id=1)[1]
        public_key = load_public_key((FIXTURE / VIEWLOG_KEY).read_bytes())
        report = AuditLog(store, None).verify(public_key)
        assert report.entries == 3
        assert report.checkpoints == 1
        assert report.ok
        served = ModelRegistry(store, legacy.parent / "data").served()
        assert served is not None
        assert served.clips == ["sh-1"]


def test_the_copy_has_the_permissions_of_the_database(legacy: Path) -> None:
    legacy.chmod(0o600)

    open_and_close(legacy)

    [copy] = backups(legacy)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert list(legacy.parent.glob("*.part")) == []


def test_opening_a_migrated_database_again_makes_no_second_copy(legacy: Path) -> None:
    open_and_close(legacy)
    first = backups(legacy)

    open_and_close(legacy)
    open_and_close(legacy)

    assert backups(legacy) == first
    assert len(first) == 1


def test_two_stores_opening_a_legacy_database_at_once_migrate_it_once(legacy: Path) -> None:
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def open_at_once() -> None:
        start.wait()
        try:
            open_and_close(legacy)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=open_at_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert revision(legacy) == head()
    assert len(backups(legacy)) == 1


def test_tables_an_old_install_never_made_are_created(
    legacy: Path, legacy_rows: dict[str, Any]
) -> None:
    # Before migrations a table was made when its module was first used: an install that never
    # had push or a locked household has neither table.
    lazy = {"push_subscriptions", "pending_clips"}
    with closing(sqlite3.connect(legacy)) as connection:
        for table in lazy:
            connection.execute(f"DROP TABLE {table}")

    open_and_close(legacy)

    assert revision(legacy) == head()
    assert schema_diff(legacy) == []
    migrated = dump(legacy)
    assert all(not migrated[t]["rows"] for t in lazy)
    older = {k: v for k, v in upgraded(legacy_rows).items() if k not in lazy}
    assert kept(migrated, older) == older


def test_fresh_database_goes_to_head_with_exactly_the_models_tables(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite"

    open_and_close(path)

    assert revision(path) == head()
    assert schema_diff(path) == []
    engine = create_engine(url(path))
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == table_names() | {"alembic_version"}
    finally:
        engine.dispose()
    assert backups(path) == []  # nothing to keep yet


def test_in_memory_database_goes_to_head() -> None:
    with Store.open("sqlite://") as store:
        store.add_gap("front", 1.0, 2.0, "test")
        assert len(store.gaps("front")) == 1


def test_database_of_a_newer_version_is_refused_untouched(legacy: Path) -> None:
    open_and_close(legacy)
    with closing(sqlite3.connect(legacy)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    before = sql_dump(legacy)

    with pytest.raises(StoreError, match="f00dfeedbeef"):
        open_and_close(legacy)

    assert sql_dump(legacy) == before
    assert len(backups(legacy)) == 1  # the first upgrade's only


def test_a_failed_migration_leaves_the_database_as_it_was(
    legacy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sql_dump(legacy)
    real_upgrade: Callable[..., None] = command.upgrade

    def upgrade_then_fail(config: Any, target: str) -> None:
        real_upgrade(config, target)
        raise RuntimeError("power cut in the middle of a migration")

    monkeypatch.setattr(command, "upgrade", upgrade_then_fail)
    engine = build_engine(url(legacy), busy_timeout=5.0, wal=True)  # a Store's engine
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            migrate(engine)
    finally:
        engine.dispose()

    assert sql_dump(legacy) == before
    assert revision(legacy) is None


def test_baseline_downgrades_to_nothing_and_upgrades_again(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite"
    open_and_close(path)
    engine = create_engine(url(path))
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()

    open_and_close(path)

    assert revision(path) == head()
    assert schema_diff(path) == []


def test_backup_names_say_from_which_revision_and_when(tmp_path: Path) -> None:
    database = tmp_path / "hearthcam.sqlite"
    when = datetime(2026, 12, 3, 14, 5, 9, tzinfo=UTC)

    first = backup_path(database, "legacy", when)
    first.touch()
    second = backup_path(database, "legacy", when)

    assert first.name == "hearthcam.sqlite.pre-legacy-20261203T140509Z.bak"
    assert second.name == "hearthcam.sqlite.pre-legacy-20261203T140509Z-2.bak"


# PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture
def postgres(postgres_host: str) -> str:
    """The session's real PostgreSQL server (``store_fixtures``); its socket folder."""
    return postgres_host


def pg_diff(database: str) -> list[Any]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_object": compared_on(connection.dialect.name)}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


@pytest.mark.integration
def test_postgres_fresh_database_goes_to_head_and_matches_the_models(postgres: str) -> None:
    database = new_database(postgres)

    with Store.open(database) as store:
        store.add_gap("front", 1.0, 2.0, "test")
        annotations = AnnotationStore(store)
        annotations.add_lease(LeaseRecord("le-1", "sh-1", 3, "active", 1.0, 2.0, None, {}))
        with pytest.raises(LeaseTaken):  # the partial unique index exists on PostgreSQL too
            annotations.add_lease(LeaseRecord("le-2", "sh-1", 4, "active", 1.0, 2.0, None, {}))
    Store.open(database).close()

    assert pg_diff(database) == []
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head()
            assert set(inspect(connection).get_table_names()) == table_names() | {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.integration
def test_postgres_database_made_before_migrations_is_adopted(postgres: str) -> None:
    database = new_database(postgres)
    engine = create_engine(database)
    lazy = {"push_subscriptions", "pending_clips"}
    try:
        # What the old create_all and ensure_tables made, less the tables made on first use.
        old = [t for n, t in metadata.tables.items() if n not in lazy | LATER_TABLES]
        metadata.create_all(engine, tables=old)
        with engine.begin() as connection:
            for table, columns in LATER_COLUMNS.items():
                for column in columns:
                    connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            connection.execute(
                metadata.tables["households"].insert().values(name="Home", created=1.0)
            )
    finally:
        engine.dispose()

    with Store.open(database) as store, AccountStore(store).read() as tx:
        assert [h.name for h in tx.households()] == ["Home"]

    assert pg_diff(database) == []


def test_migrations_render_as_postgresql_sql_for_a_dba() -> None:
    """``alembic upgrade head --sql``: the SQL of every revision, no database needed."""
    out = io.StringIO()
    config = Config(output_buffer=out, cmd_opts=Namespace(x=["url=postgresql+psycopg://"]))
    config.set_main_option("script_location", str(MIGRATIONS))

    command.upgrade(config, "head", sql=True)

    sql = out.getvalue()
    assert sql.count("CREATE TABLE") == len(table_names()) + 1  # and alembic_version
    assert "BYTEA" in sql  # LargeBinary as PostgreSQL has it
    assert "WHERE state = 'active'" in sql  # the partial unique indexes
    assert "INSERT INTO alembic_version (version_num) VALUES ('0c1a7f5e2b10')" in sql  # baseline
    assert f"SET version_num='{head()}'" in sql  # and every revision after it, up to head


def test_a_walk_over_the_package_never_runs_the_migration_scripts() -> None:
    """env.py runs when imported, which only Alembic may do: the scripts are files Alembic loads
    by path, not modules a walk over hearthcam (a test of every module does one) imports."""
    walked = [m.name for m in pkgutil.walk_packages(hearthcam.__path__, "hearthcam.")]

    assert "hearthcam.store.schema" in walked
    assert not [name for name in walked if "migrations" in name]
    assert (MIGRATIONS / "env.py").is_file()
