"""A withdrawn clip leaves nothing behind: 0 files and 0 database rows that name it, whatever
touched it (private and redacted copies, an annotator's lease and watermarked copy, a submitted
annotation, a model trained with it, the keys of every sealed file). The one exception is the
view log, which says who saw it and is append-only by design.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from hearthcam.learn.registry import ModelRegistry
from hearthcam.web import create_app
from tests.support.review_world import publish
from tests.support.world import ORIGIN, World

KEPT_BY_DESIGN = {"audit_views"}  # the view log


def rows_naming(database: str, needle: str) -> dict[str, int]:
    """Table -> how many of its rows contain ``needle`` anywhere (every column, as text)."""
    found: dict[str, int] = {}
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            hits = sum(needle in repr(row) for row in rows)
            if hits:
                found[table] = hits
    return found


def client(world: World, app: object, username: str) -> TestClient:
    c = TestClient(app, headers={"origin": ORIGIN})  # type: ignore[arg-type]
    c.__enter__()
    token = world.session_token(username)
    c.cookies.set("hc_session", token)
    c.headers["X-CSRF-Token"] = world.csrf(token)
    return c


def test_a_withdrawn_clip_leaves_no_file_and_no_row(world: World) -> None:
    registry = ModelRegistry(world.store, world.data_dir)
    services = replace(world.services, share_listeners=[registry])
    app = create_app(services)
    share = publish(world)
    database = make_url(world.config.database_url).database
    assert database is not None

    ann = client(world, app, "ann")
    lease = ann.post("/api/review/leases").json()
    assert ann.get(lease["clip_url"]).status_code == 200  # viewed: a view-log entry
    done = ann.post(
        f"/api/review/leases/{lease['id']}/annotation",
        json={"verdict": "pet", "keyframes": [{"frame": 2, "boxes": [
            {"xyxy": [0.2, 0.2, 0.6, 0.8], "label": "dog"}]}]},
    )  # fmt: skip
    assert done.status_code == 201, done.text
    second = ann.post("/api/review/leases")  # nothing else to take: the clip was annotated
    assert second.status_code == 409
    model = registry.register(
        {"clips": [{"share": share.id, "receipt": share.receipt_sha256}]}, {}, "v1", 0.0, None,
        payload=b"weights",
    )  # fmt: skip
    registry.promote(model.id, 1.0)
    before = rows_naming(database, share.id)
    assert {"shares", "review_leases", "review_annotations", "models", "model_clips",
            "audit_views"} <= set(before)  # fmt: skip
    assert any(share.id in str(p) for p in world.data_dir.rglob("*"))

    alice = client(world, app, "alice")
    withdrawn = alice.delete(f"/api/shares/{share.id}")
    assert withdrawn.status_code == 200, withdrawn.text
    left = {t: n for t, n in rows_naming(database, share.id).items() if t not in KEPT_BY_DESIGN}
    assert left == {}
    assert rows_naming(database, share.receipt_sha256) == {}  # nor the consent receipt
    assert [p for p in world.data_dir.rglob("*") if share.id in str(p)] == []
    assert not registry.file_of(model.id).exists()
    assert registry.served() is None  # the only model was trained with it
    for c in (ann, alice):
        c.__exit__(None, None, None)
