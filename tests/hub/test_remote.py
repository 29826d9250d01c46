"""The hub's checks and training on a real Ray cluster (issue 16: "Ray workers for checks and
training"): a head and a second node started with ``ray start`` as separate processes (one CPU
each) in a loopback-only network namespace, the hub's database on a real PostgreSQL server, its
sealed clips in the folder both nodes read, and the operator's own command, ``hearthcam hub
serve --ray HEAD``. The checks run the real models (a real face is refused and deleted with a
signed receipt, a clip without one passes); the fit runs on a node and the model ``hub serve``
signs learned exactly the annotated clips.

Beside it, the pure part: ``HubChecks`` with a scripted ``RemoteChecks`` records what comes
back, deletes what is refused and leaves a clip whose check did not run waiting.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import pytest
from typer.testing import CliRunner

from hearthcam.annotate.workbench import FalseAlarmReason, ReviewVerdict
from hearthcam.cli import cli
from hearthcam.hub.checks import PASSED, REFUSED, HubChecks
from hearthcam.hub.clips import ClipFeatures
from hearthcam.hub.identity import load_or_create
from hearthcam.hub.models import clip_token, verify_model
from hearthcam.hub.training import home_key_ids
from hearthcam.pipeline.features import FEATURES_VERSION, event_features
from hearthcam_bench.broker import free_port
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from tests.learn.test_train import world
from tests.support.factories import make_h264_segment
from tests.support.hubs import TestHub
from tests.support.postgres import new_database
from tests.support.required import require
from tests.vision.conftest import carphone, carphone_clip

__all__ = ["carphone", "carphone_clip"]

ROOT = Path(__file__).resolve().parents[2]
RECEIPT = "ab" * 32
ANNOTATED = 12


class PassAll:
    """The stand-in check that passes every clip (for the clips annotated before the run)."""

    def inspect(self, opener: Callable[[], BinaryIO]) -> str | None:
        return None


def _link(hub: TestHub, root: Path, name: str) -> int:
    home = load_or_create(root / f"{name}.pem")
    now = time.time()
    return hub.registry.link(hub.registry.new_code(now), home.public_b64, name, now)


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_hub_serve_checks_and_trains_on_a_ray_cluster(
    tmp_path: Path, postgres_host: str, postgres_template: str, carphone_clip: Path
) -> None:
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    database = new_database(postgres_host, postgres_template)
    hub = TestHub(tmp_path / "hub", database_url=database)
    plain = tmp_path / "plain.mp4"
    make_h264_segment(plain, seconds=1.0, fps=10)
    homes = [_link(hub, tmp_path, "maple"), _link(hub, tmp_path, "birch")]
    now = time.time()
    keep = int(now) + 86_400
    # Twelve clips annotated before this run (checked by the stand-in, each with the numbers
    # its home's model read from its event), from both homes.
    events, truth = world(ANNOTATED, seed=3)
    annotated: dict[tuple[int, str], str] = {}
    for i, (like, verdict) in enumerate(zip(events, truth, strict=True)):
        home, clip = homes[i % 2], f"learned-{i:02d}"
        values = tuple(float(v) for v in event_features(like))
        features = ClipFeatures(FEATURES_VERSION, values)
        hub.clips.add(home, clip, plain.read_bytes(), RECEIPT, keep, now, features)
        annotated[(home, clip)] = verdict
    checks = HubChecks.from_url(database, hub.clips, PassAll)
    assert {o.state for o in checks.run_once()} == {PASSED}
    desk = hub.open_workbench(checks).desk
    for _ in range(ANNOTATED):
        lease = desk.take(1, "ana", time.time())
        verdict = ReviewVerdict(annotated[(lease.home_id, lease.clip_id)])
        reason = FalseAlarmReason.SHADOW if verdict is ReviewVerdict.FALSE_ALARM else None
        desk.submit(lease, verdict, reason, [], time.time())
    checks.close()
    # Two clips just sent, not checked yet: a real face, and a moving pattern.
    hub.clips.add(homes[0], "face", carphone_clip.read_bytes(), RECEIPT, keep, now)
    hub.clips.add(homes[1], "pattern", plain.read_bytes(), RECEIPT, keep, now)
    keys = home_key_ids(hub.clips)
    hub.close()

    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.hub_ray_run", database, str(hub.root),
            str(out), "--clips", str(ANNOTATED + 2)]  # fmt: skip
    done = in_loopback_namespace(argv, timeout=800, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    report = json.loads(out.read_text())
    said = report["output"]
    assert report["code"] == 0, said[-4000:]
    assert "the clips' checks and the training run on the Ray cluster at" in said
    assert "stopped cleanly" in said
    assert "Context impl" not in said  # Alembic's line at each open of the database: noise

    # Both new clips were checked by the cluster's workers (their own log lines say where),
    # not in the hub's process. Which node took which is Ray's choice (SPREAD is a preference:
    # `bench hub-ray` measures the spread).
    nodes = report["nodes"]
    assert set(nodes) == {"head", "worker-1"}
    started = {(c["home"], c["clip"]): c["node"] for c in report["checks"]}
    assert set(started) == {(homes[0], "face"), (homes[1], "pattern")}, report["checks"]
    assert set(started.values()) <= set(nodes.values())
    # The fit ran on a node too.
    assert len(report["fits"]) >= 1
    assert set(report["fits"]) <= set(nodes.values())

    again = TestHub(tmp_path / "hub", database_url=database)
    try:
        checks = HubChecks.from_url(database, again.clips, PassAll)
        assert checks.state(homes[1], "pattern") == PASSED
        assert checks.state(homes[0], "face") == REFUSED
        [refused] = checks.refused(homes[0])
        assert "face check found" in str(refused["reason"]), refused
        assert refused["receipt"] is not None  # signed by the hub (its key never left it)
        assert [c.clip_id for c in again.clips.list(homes[0]) if c.clip_id == "face"] == []
        checks.close()
        # The model `hub serve` signed after the fit on the cluster: verified with the hub's
        # key, its lineage exactly the twelve annotated clips.
        model = again.models.latest()
        assert model is not None
        verify_model(again.identity.public, model)
        assert model.lineage == {clip_token(keys[h], c) for h, c in annotated}
    finally:
        again.close()


def test_hub_serve_on_a_ray_head_where_nothing_answers_is_one_line_at_once(
    tmp_path: Path, postgres_host: str, postgres_template: str
) -> None:
    require(ray_problem() is None, ray_problem() or "")
    database = new_database(postgres_host, postgres_template)
    head = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = CliRunner().invoke(
        cli,
        ["hub", "serve", "--database", database, "--data", str(tmp_path / "hub"), "--port", "0",
         "--ray", head],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"cannot reach the Ray cluster's head at {head}" in result.output
    assert "fix --ray" in result.output
    assert time.monotonic() - started < 30


def test_hub_serve_refuses_ray_with_a_sqlite_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["hub", "serve", "--database", f"sqlite:///{tmp_path / 'hub.sqlite'}", "--data",
         str(tmp_path / "hub"), "--ray", "127.0.0.1:6379"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--ray needs a database every node reaches" in result.output
    assert not (tmp_path / "hub.sqlite").exists()


class Scripted:
    """A ``RemoteChecks`` that answers from a script: a reason, "" for passed, or no answer
    (the check did not run)."""

    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.asked: list[list[tuple[int, str]]] = []

    def inspect(
        self, waiting: Sequence[tuple[int, str]], stop: threading.Event
    ) -> Iterator[tuple[int, str, str | None]]:
        self.asked.append(list(waiting))
        for home, clip in waiting:
            answer = self.answers[clip]
            if answer is not None:
                yield home, clip, answer or None


@pytest.fixture
def scripted_hub(tmp_path: Path) -> Iterator[TestHub]:
    hub = TestHub(tmp_path / "hub")
    try:
        yield hub
    finally:
        hub.close()


def test_remote_outcomes_are_recorded_here_and_a_clip_whose_check_did_not_run_waits(
    scripted_hub: TestHub, tmp_path: Path
) -> None:
    hub = scripted_hub
    home = _link(hub, tmp_path, "maple")
    now = time.time()
    for clip in ("kept", "refused", "waits"):
        hub.clips.add(home, clip, b"not a clip", RECEIPT, int(now) + 3600, now)
    remote = Scripted({"kept": "", "refused": "the face check found 1 faces", "waits": None})

    def local() -> PassAll:
        raise AssertionError("with remote checks nothing is checked here")

    checks = HubChecks(hub.clips.engine, hub.clips, local, remote=remote)
    outcomes = checks.run_once()
    assert {(o.clip_id, o.state) for o in outcomes} == {("kept", PASSED), ("refused", REFUSED)}
    assert checks.state(home, "waits") is None  # offered to nobody, asked again next pass
    assert [c.clip_id for c in hub.clips.list(home)] == ["kept", "waits"]
    [refused] = checks.refused(home)
    assert refused["reason"] == "the face check found 1 faces"
    assert refused["receipt"]
    checks.run_once()
    assert remote.asked[-1] == [(home, "waits")]
