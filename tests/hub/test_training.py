"""Share, annotate, train, pull, withdraw, end to end: two real homes linked to one real hub on
loopback. Each home shares events (their tracks from the learning tests' world: threats at
night, people passing by day, cats, flicker); the clips arrive with the numbers the home's model
reads from each event; an annotator at the hub annotates them over HTTP; ``hub train`` (the CLI)
fits on both homes, judges on the held-out one and signs the model with its lineage; each home
pulls it through its own gate; a withdrawal at one home retires it at the hub, and the next
training leaves that clip out. The hub's checks are the stand-in that passes every clip (the
real models run in the walks)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.hub.checks import HubChecks
from hearthcam.hub.client import HubClient
from hearthcam.hub.home import HOME_IDENTITY, read_link
from hearthcam.hub.identity import load_or_create, public_key_from_b64
from hearthcam.hub.models import clip_token
from hearthcam.hub.pull import Pulled, PullOutcome, pull_model
from hearthcam.hub.training import (
    TrainingRefused,
    TrainingSchedule,
    pooled_examples,
    train_pooled,
)
from hearthcam.pipeline.features import FEATURE_NAMES, FEATURES_VERSION, event_features
from hearthcam.store.hub_deliveries import Delivery
from tests.hub.test_delivery import Home, _home, home, hub
from tests.hub.test_workbench import Clock, Person, bench, clock, people
from tests.learn.test_train import world
from tests.support.hubs import TestHub, link_home

__all__ = ["bench", "clock", "home", "hub", "people"]

pytestmark = pytest.mark.integration


@pytest.fixture
def second(tmp_path: Path, hub: TestHub) -> Iterator[Home]:
    for made in _home(tmp_path / "second"):
        made.home_id = link_home(made.data_dir, hub, "Birch Lane").home_id
        yield made


def _share_world(home: Home, n: int, seed: int) -> dict[str, str]:
    """Shares ``n`` events of the learning world; the hub's clip id -> the true verdict."""
    events, truth = world(n, seed)
    sent: dict[str, str] = {}
    for like, verdict in zip(events, truth, strict=True):
        share = home.share(like=like)
        home.publish(share)
        assert share.id in home.delivery.run_once().sent
        delivery = home.deliveries.get(share.id)
        assert delivery is not None
        sent[delivery.clip_id] = verdict
    return sent


def _annotate_all(hub: TestHub, annotator: Person, truth: dict[str, str]) -> None:
    """The annotator takes every waiting clip and records what it shows."""
    assert hub.workbench is not None
    [me] = [u.id for u in hub.workbench.accounts.list_users() if u.username == annotator.name]
    while annotator.get("/api/review/queue").json()["available"]:
        lease = annotator.post("/api/review/leases").json()
        held = hub.workbench.desk.lease_of(me, lease["id"])
        assert held is not None
        verdict = truth[held.clip_id]
        body = {"verdict": verdict, "reason": "shadow" if verdict == "false_alarm" else None}
        done = annotator.post(f"/api/review/leases/{lease['id']}/annotation", body)
        assert done.status_code == 201, done.text


def _pull(home: Home) -> PullOutcome:
    link = read_link(home.data_dir)
    assert link is not None
    identity = load_or_create(home.data_dir / HOME_IDENTITY)
    with HubClient(link.url, identity, hub_key=public_key_from_b64(link.hub_key)) as client:
        return pull_model(home.store, home.data_dir, client, identity.key_id, link.url, time.time())


@pytest.mark.timeout(300)
def test_two_homes_share_annotate_train_pull_and_withdraw(
    hub: TestHub,
    home: Home,
    second: Home,
    bench: Callable[..., HubChecks],
    people: Callable[..., Person],
) -> None:
    checks = bench(daily_quota=1000)
    truth = _share_world(home, 12, seed=1) | _share_world(second, 12, seed=2)
    checks.run_once()
    ada = people("ada")
    _annotate_all(hub, ada, truth)

    # The clips came with the numbers their homes' models read, in this version's order.
    features = hub.clips.features()
    assert len(features) == 24
    assert {(f.version, len(f.values)) for f in features.values()} == {
        (FEATURES_VERSION, len(FEATURE_NAMES))
    }
    [(first_clip, first_verdict)] = list(truth.items())[:1]
    share = next(d for d in _deliveries(home) if d.clip_id == first_clip)
    shared = home.sharing.shares.get(share.share_id)
    assert shared is not None
    event = home.store.get_event(shared.event_id)
    assert event is not None
    sent = features[(home.home_id, first_clip)].values
    assert sent == pytest.approx(tuple(float(v) for v in event_features(event)), rel=1e-5)
    examples = pooled_examples(hub.clips)
    assert {(e.home_id, e.clip_id): e.verdict for e in examples} == {
        (home.home_id if c in _clip_ids(home) else second.home_id, c): v for c, v in truth.items()
    }
    assert first_verdict == "threat"

    # The operator trains: held-out figures for one home, a model signed with all 24 clips.
    trained = CliRunner().invoke(
        cli, ["hub", "train", "--database", f"sqlite:///{hub.database}", "--data", str(hub.root)]
    )
    assert trained.exit_code == 0, trained.output
    said = " ".join(trained.output.split())
    assert "trained on 24 annotated clips from 2 homes" in said
    assert "on 1 held-out homes (12 clips, trained without them)" in said
    model = hub.models.latest()
    assert model is not None
    assert trained.stdout.strip().endswith(model.model_id)
    keys = {home.home_id: _key_id(home), second.home_id: _key_id(second)}
    assert model.lineage == {clip_token(keys[e.home_id], e.clip_id) for e in examples}

    # Each home pulls it through its own gate: signed, not tainted; no annotations at home to
    # judge it on, so it waits as a candidate.
    for someone in (home, second):
        pulled = _pull(someone)
        assert pulled.result is Pulled.CANDIDATE, pulled.reason

    # A withdrawal at the first home: the hub deletes the clip, its annotation and retires
    # the model; the next training leaves the clip out.
    withdrawn = share.share_id
    home.sharing.withdraw(withdrawn)
    assert hub.models.latest() is None
    assert (home.home_id, first_clip) not in hub.clips.features()
    again = train_pooled(hub.clips, hub.models, time.time(), seed=0)
    assert again.examples == 23
    assert clip_token(keys[home.home_id], first_clip) not in again.model.lineage
    assert _pull(second).result is Pulled.CANDIDATE


def test_training_needs_enough_annotated_clips(
    hub: TestHub,
    home: Home,
    bench: Callable[..., HubChecks],
    people: Callable[..., Person],
) -> None:
    checks = bench()
    truth = _share_world(home, 4, seed=3)
    checks.run_once()
    _annotate_all(hub, people("ada"), truth)
    with pytest.raises(TrainingRefused, match="4 annotated clips with features"):
        train_pooled(hub.clips, hub.models, time.time())
    assert hub.models.latest() is None
    refused = CliRunner().invoke(
        cli, ["hub", "train", "--database", f"sqlite:///{hub.database}", "--data", str(hub.root)]
    )
    assert refused.exit_code == 2
    assert "at least 10 and two verdicts are needed" in " ".join(refused.output.split())


def _deliveries(home: Home) -> list[Delivery]:
    return home.deliveries.of_household(1)


def _clip_ids(home: Home) -> set[str]:
    return {d.clip_id for d in home.deliveries.of_household(1)}


def _key_id(home: Home) -> str:
    return load_or_create(home.data_dir / HOME_IDENTITY).key_id


def test_hub_serve_trains_on_its_own_when_annotations_change_and_after_a_retirement(
    hub: TestHub,
    home: Home,
    bench: Callable[..., HubChecks],
    people: Callable[..., Person],
    clock: Clock,
) -> None:
    checks = bench(daily_quota=1000)
    truth = _share_world(home, 12, seed=4)
    checks.run_once()
    ada = people("ada")
    _annotate_all(hub, ada, truth)
    schedule = TrainingSchedule(hub.clips, hub.models, every=3600.0, clock=clock)
    first = schedule.run_once()
    assert first is not None
    assert first.examples == 12
    assert schedule.run_once() is None  # nothing changed
    # More annotations: not before the hour is up, while a model is offered.
    more = _share_world(home, 4, seed=5)
    checks.run_once()
    _annotate_all(hub, ada, more)
    assert schedule.run_once() is None
    clock.now += 3601
    second = schedule.run_once()
    assert second is not None
    assert second.examples == 16
    # A clip of the last batch withdrawn: the model that learned it is retired, and the first
    # one, which did not, is offered again.
    newest = home.deliveries.of_household(1)[0]
    home.sharing.withdraw(newest.share_id)
    assert hub.models.latest() == first.model
    assert schedule.run_once() is None  # within the hour, with a model offered
    # A clip of the first batch withdrawn: both models go; the next look trains again.
    oldest = home.deliveries.of_household(1)[-1]
    home.sharing.withdraw(oldest.share_id)
    assert hub.models.latest() is None
    third = schedule.run_once()
    assert third is not None
    assert third.examples == 14
    assert hub.models.latest() == third.model
