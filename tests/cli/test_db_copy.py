"""``hearthcam db copy --to postgresql+psycopg://...``: a real install's SQLite database (users,
cameras, events, footage, a share leased by an annotator whose views are logged) copied into an
empty PostgreSQL database on a real server; the app then runs on PostgreSQL: the owner signs in
over HTTP, sees every event, and the view log verifies. The SQLite file is never changed; a
target that is not empty is refused by name."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from tests.support.factories import make_h264_segment
from tests.support.postgres import new_database
from tests.support.review_world import publish
from tests.support.world import ORIGIN, PASSWORD, T0, World, _open_world, build_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("copy-media") / "clip.mp4"
    make_h264_segment(path, seconds=2.0, fps=10)
    return path


@pytest.fixture
def home(tmp_path: Path, clip: Path) -> World:
    """An install used for real: events, recordings, a published share an annotator leased
    and streamed (two views logged, a checkpoint signed); then stopped."""
    world = build_world(tmp_path / "home", clip)
    world.add_event("front")
    world.add_event("back", T0 - 300)
    world.add_footage("front", T0 - 620, 10.0)
    publish(world)
    with signed_in(world, "ann") as annotator:
        lease = annotator.post("/api/review/leases")
        assert lease.status_code == 201, lease.text
        clip_url = lease.json()["clip_url"]
        for span in ("bytes=0-9", "bytes=10-19"):
            assert annotator.get(clip_url, headers={"Range": span}).status_code == 206
    with signed_in(world, "alice") as owner:
        assert owner.get("/api/views").status_code == 200
    world.services.exports.close()
    world.store.close()
    return world


def signed_in(world: World, username: str) -> TestClient:
    client = TestClient(world.app, headers={"origin": ORIGIN})
    token = world.session_token(username)
    client.cookies.set("hc_session", token)
    client.headers["X-CSRF-Token"] = world.csrf(token)
    return client


def config_file(folder: Path, data_dir: Path, database: str | None = None) -> Path:
    path = folder / ("pg.yaml" if database else "sqlite.yaml")
    lines = [f"data_dir: {data_dir}"] + ([f"database: '{database}'"] if database else [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fingerprint(data_dir: Path) -> dict[str, tuple[str, int]]:
    """Every file of the SQLite database (its WAL too, if any) by content and change time."""
    return {
        p.name: (sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in data_dir.glob("hearthcam.db*")
    }


def test_an_install_moves_to_postgresql_and_runs_there(
    home: World, postgres_host: str, tmp_path: Path
) -> None:
    with Store.open(home.config.database_url, data_dir=home.data_dir) as source:
        events = {e.id for e in source.events()}
    before = fingerprint(home.data_dir)
    target = new_database(postgres_host)  # empty: not the migrated template
    sqlite_config = config_file(tmp_path, home.data_dir)

    copied = CliRunner().invoke(cli, ["db", "copy", "--to", target, "--config", str(sqlite_config)])

    assert copied.exit_code == 0, copied.output
    assert "every count checked" in copied.output
    for table in ("users", "events", "segments", "shares", "audit_views", "media_keys"):
        assert table in copied.output
    again = CliRunner().invoke(cli, ["db", "copy", "--to", target, "--config", str(sqlite_config)])
    assert again.exit_code == 2
    assert "is not empty" in again.output
    assert target.split("?")[0] in " ".join(again.output.split())  # the target, by name
    assert fingerprint(home.data_dir) == before  # the source was only read

    # What ``hearthcam audit verify`` runs (the command itself leaves its Store open, which
    # pytest's ResourceWarning check would fail on PostgreSQL).
    with Store.open(target) as copy:
        report = AuditLog(copy, None).verify(AuditKey.load(key_path(home.data_dir)).public_key)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (2, 1)

    config = home.config.model_copy(update={"database": target})
    moved = _open_world(home.root, home.clip_source, config, home.clock)
    moved.household_a = home.household_a
    try:
        with TestClient(moved.app, headers={"origin": ORIGIN}) as client:
            login = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert login.json()["state"] == "active"
            assert {e["id"] for e in client.get("/api/events").json()} == events
            views = client.get("/api/views").json()
            assert len(views["entries"]) == 2
        # New rows get new ids: the sequences moved past the copied ones (users has 5).
        assert moved.add_member("zoe") == max(home.user_ids.values()) + 1
    finally:
        moved.services.exports.close()
        moved.store.close()


def test_a_source_of_an_older_revision_is_refused(postgres_host: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from hearthcam.store.migrate import head

    data = tmp_path / "data"
    data.mkdir()
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}"):
        pass
    engine = create_engine(f"sqlite:///{data / 'hearthcam.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0c1a7f5e2b10'"))
    engine.dispose()
    target = new_database(postgres_host)
    config = config_file(tmp_path, data)
    result = CliRunner().invoke(cli, ["db", "copy", "--to", target, "--config", str(config)])
    assert result.exit_code == 2
    assert f"not {head()}" in " ".join(result.output.split())
