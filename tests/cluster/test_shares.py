"""The share checks on a real Ray cluster (issue 15): a head and a second node started with
``ray start`` as separate processes (one CPU each) in a loopback-only network namespace, the
database on a real PostgreSQL server, the sealed media in one data directory both nodes use.

Ten shared clips (real footage: a face, and a moving pattern) are checked as Ray tasks on both
nodes; killing the second node in the middle loses no share: its task runs again on the head.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import pytest
import yaml

from hearthcam import app
from hearthcam.cluster.shares import connect
from hearthcam.config import parse_config
from hearthcam.errors import ClusterError
from hearthcam.privacy.consent import redacted_path
from hearthcam.raylink import CONNECT_TIMEOUT
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore
from hearthcam.vault.sealed import plaintext_media_signatures
from hearthcam_bench.broker import free_port
from hearthcam_bench.cluster_run import make_shares
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from tests.support.factories import make_h264_segment
from tests.support.postgres import new_database
from tests.support.required import require
from tests.vision.conftest import carphone, carphone_clip

__all__ = ["carphone", "carphone_clip"]

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHARES = 10


@dataclasses.dataclass(frozen=True)
class World:
    config: Path
    data: Path
    database: str
    faces: set[str]  # the shares of the clip with a face
    shares: list[str]


@pytest.fixture
def world(tmp_path: Path, postgres_host: str, postgres_template: str, carphone_clip: Path) -> World:
    """Ten consented shares, sealed, in a data directory on a real PostgreSQL database: half of
    a real face, half of a moving pattern."""
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    database = new_database(postgres_host, postgres_template)
    data = tmp_path / "data"
    data.mkdir()
    plain = tmp_path / "plain.mp4"
    make_h264_segment(plain, seconds=2.0, fps=10)
    clips = [carphone_clip if i % 2 == 0 else plain for i in range(SHARES)]
    # Shared now: `hearthcam run` ends shares older than their keep days at start.
    shares = make_shares(database, data, clips, time.time())
    assert plaintext_media_signatures(data) == []
    config = tmp_path / "config.yaml"
    settings = {
        "data_dir": str(data),
        "database": database,
        # The driver starts the cluster and puts its head's address here.
        "cluster": {"engine": "ray", "address": "127.0.0.1:1"},
    }
    config.write_text(yaml.safe_dump(settings))
    return World(config, data, database, set(shares[::2]), shares)


def _drive(world: World, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.cluster_run", str(world.config), str(out)]
    done = in_loopback_namespace([*argv, *extra], timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _check_published(world: World) -> None:
    """Every share published, its redacted copy sealed and playable, faces blurred."""
    with Store.open(world.database, data_dir=world.data) as store:
        media = app.open_media_to_read(store, world.data)
        shares = ShareStore(store)
        for share_id in world.shares:
            record = shares.get(share_id)
            assert record is not None
            assert record.status == "published", (share_id, record.status, record.reason)
            if share_id in world.faces:
                assert record.facts["faces_blurred"] > 0
            assert record.facts["faces_left"] == 0
            redacted = redacted_path(world.data, share_id)
            with media.open(redacted) as reader, av.open(cast(BinaryIO, reader), "r") as clip:
                frames = sum(1 for _ in clip.decode(video=0))
            assert frames == record.facts["frames"]
    assert plaintext_media_signatures(world.data) == []


def test_ten_shared_clips_are_checked_on_both_nodes(world: World, tmp_path: Path) -> None:
    report = _drive(world, tmp_path)

    nodes = report["nodes"]
    assert set(nodes) == {"head", "worker-1"}
    assert {n["ip"] for n in nodes.values()} == {"127.0.0.1"}  # loopback only
    where = report["where"]
    assert sorted(where) == sorted(world.shares)
    used = {place.split("/")[0] for place in where.values()}
    assert used == {nodes["head"]["id"], nodes["worker-1"]["id"]}  # both nodes worked
    assert len(report["passes"]) == 1  # one pass: every share was checked at once
    _check_published(world)


def test_a_node_killed_during_the_checks_loses_no_share(world: World, tmp_path: Path) -> None:
    report = _drive(world, tmp_path, "--kill", "worker-1", "--after", "1")

    killed = report["killed"]
    assert killed["processes"] >= 2  # the raylet and the worker processes under it
    assert killed["checking_then"] >= 1
    nodes = report["nodes"]
    assert nodes["worker-1"]["alive"] is False
    assert sorted(report["where"]) == sorted(world.shares)
    # The checks running on the killed node (their workers' log lines said they started there;
    # no outcome had come back) were done again on the head: the stored outcome came from it.
    worker, head = nodes["worker-1"]["id"], nodes["head"]["id"]
    assert killed["busy"], report
    for share in killed["busy"]:
        assert {"share": share, "node": worker} in report["starts"]
        assert report["where"][share].split("/")[0] == head
    # Nothing was lost or left checking.
    _check_published(world)


def test_hearthcam_run_with_a_cluster_checks_the_shares_there(world: World, tmp_path: Path) -> None:
    """The user's way: ``hearthcam run --cluster HEAD`` (PostgreSQL in the config) finds the
    waiting shares at start and has them checked on the cluster's nodes; SIGINT stops it."""
    report = _drive(world, tmp_path, "--serve")

    serve = report["serve"]
    assert serve["code"] == 0, serve["output"]
    assert "share checks run on the Ray cluster" in serve["output"]
    assert "stopped cleanly" in serve["output"]
    started = {s["share"] for s in report["starts"]}
    assert started == set(world.shares)
    assert {s["node"] for s in report["starts"]} == set(serve["nodes"].values())
    _check_published(world)


def test_hearthcam_run_stopped_during_the_checks_leaves_them_waiting(
    world: World, tmp_path: Path
) -> None:
    """SIGINT while the cluster checks (one share published, others running or queued): the
    server cancels what still runs there, puts those shares back to waiting (checked at its next
    start) and stops cleanly."""
    report = _drive(world, tmp_path, "--serve", "--interrupt")

    serve = report["serve"]
    assert serve["code"] == 0, serve["output"]
    assert "stopped cleanly" in serve["output"]
    with Store.open(world.database, data_dir=world.data) as store:
        statuses = [r.status for i in world.shares if (r := ShareStore(store).get(i))]
    assert len(statuses) == SHARES
    assert "checking" not in statuses
    assert "published" in statuses, statuses  # the checks worked until the stop
    assert "consented" in statuses, statuses  # cancelled on the cluster, waiting again
    assert set(statuses) == {"consented", "published"}
    assert "its check was lost; it waits for the next pass" in serve["output"]


def test_a_cluster_address_where_nothing_answers_is_a_clear_error_at_once() -> None:
    """``hearthcam run`` with cameras on a cluster that is not there says so in one line (Ray
    itself would retry for minutes); the share checks leave the shares waiting on it."""
    require(ray_problem() is None, ray_problem() or "")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    config = parse_config({
        "database": "postgresql+psycopg://hearthcam@/hearthcam",
        "cluster": {"engine": "ray", "address": address, "cameras": True},
    })  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot reach the Ray cluster's head at {address}"):
        connect(config)
    assert time.monotonic() - started < CONNECT_TIMEOUT + 1
    import ray

    assert not ray.is_initialized()
