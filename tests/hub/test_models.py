"""Models from the hub, pulled home: a real hub on loopback signs a real verdict model (trained
by ``learn.train`` on toy events) with its lineage of clip tokens; the home (real SQLite, sealed
media, its registry) verifies it, refuses one that is unsigned, altered or learned from a clip it
withdrew, judges it on its own annotations and promotes it only if it beats the rules. A
withdrawal retires the hub's models that learned from the clip, and taints a pulled one."""

from __future__ import annotations

import random
import time
from pathlib import Path

from sqlalchemy import update

from hearthcam.hub.client import HubClient
from hearthcam.hub.delivery import HubDelivery
from hearthcam.hub.home import HOME_IDENTITY, read_link
from hearthcam.hub.identity import load_or_create, public_key_from_b64
from hearthcam.hub.models import HubModels, clip_token
from hearthcam.hub.pull import Pulled, PullOutcome, pull_model
from hearthcam.hub.registry import hub_models
from hearthcam.learn.registry import ModelRegistry, ModelStatus
from hearthcam.learn.train import fit
from hearthcam.pipeline.features import FEATURES_VERSION, feature_matrix
from tests.hub.test_delivery import Home, home, hub
from tests.learn.test_retrain import Home as TrainingHome
from tests.learn.test_retrain import annotate
from tests.learn.test_train import world
from tests.support.hubs import TestHub

__all__ = ["home", "hub"]

GOOD = fit(feature_matrix(world(80, seed=1)[0]), world(80, seed=1)[1]).payload


def _pull(home: Home) -> PullOutcome:
    link = read_link(home.data_dir)
    assert link is not None
    identity = load_or_create(home.data_dir / HOME_IDENTITY)
    hub_key = public_key_from_b64(link.hub_key)
    with HubClient(link.url, identity, hub_key=hub_key) as client:
        return pull_model(home.store, home.data_dir, client, identity.key_id, link.url, time.time())


def _sent(home: Home) -> str:
    """A share sent to the hub; its id."""
    share = home.share()
    home.publish(share)
    assert home.delivery.run_once().sent == [share.id]
    return share.id


def test_a_signed_model_is_taken_as_a_candidate_with_the_homes_clips_as_its_lineage(
    hub: TestHub, home: Home
) -> None:
    assert _pull(home).result is Pulled.NONE
    share_id = _sent(home)
    published = hub.models.publish(GOOD, hub.models.held_tokens(), FEATURES_VERSION, time.time())
    outcome = _pull(home)
    assert outcome.result is Pulled.CANDIDATE  # nothing annotated here to judge it by
    assert "promoted by hand" in outcome.reason
    registry = ModelRegistry(home.store, home.data_dir)
    record = registry.get(str(outcome.model_id))
    assert record is not None
    assert record.status is ModelStatus.CANDIDATE
    assert record.manifest["hub"]["model_id"] == published.model_id
    assert record.clips == [share_id]
    assert registry.file_of(record.id).read_bytes() == GOOD
    assert registry.served() is None
    assert _pull(home).result is Pulled.KNOWN

    home.sharing.withdraw(share_id)  # the clip it learned from: tainted here, retired there
    tainted = registry.get(record.id)
    assert tainted is not None
    assert tainted.status is ModelStatus.TAINTED
    assert hub.models.latest() is None
    assert _pull(home).result is Pulled.NONE


def test_a_model_not_signed_by_the_pinned_hub_or_altered_is_refused(
    tmp_path: Path, hub: TestHub, home: Home
) -> None:
    impostor = HubModels(hub.models._engine, load_or_create(tmp_path / "impostor.pem"))
    impostor.publish(GOOD, [], FEATURES_VERSION, time.time())
    outcome = _pull(home)
    assert outcome.result is Pulled.REFUSED
    assert "not signed by the hub this home is linked to" in outcome.reason

    later = hub.models.publish(GOOD, [], FEATURES_VERSION, time.time() + 1)
    with hub.models._engine.begin() as connection:
        connection.execute(
            update(hub_models)
            .where(hub_models.c.id == later.model_id)
            .values(payload=GOOD[:-1] + bytes([GOOD[-1] ^ 1]))
        )
    outcome = _pull(home)
    assert outcome.result is Pulled.REFUSED
    assert "not the one the hub signed" in outcome.reason
    assert ModelRegistry(home.store, home.data_dir).models() == []


def test_a_model_that_learned_from_a_clip_this_home_withdrew_is_refused(
    hub: TestHub, home: Home
) -> None:
    share_id = _sent(home)
    token = hub.models.held_tokens()
    home.sharing.withdraw(share_id)
    # A dishonest hub: it offers a model whose lineage holds the withdrawn clip.
    hub.models.publish(GOOD, token, FEATURES_VERSION, time.time())
    outcome = _pull(home)
    assert outcome.result is Pulled.REFUSED
    assert "learned from 1 clip you withdrew from the hub" in outcome.reason
    assert ModelRegistry(home.store, home.data_dir).models() == []


def test_a_model_is_promoted_only_when_it_beats_the_rules_on_this_homes_annotations(
    hub: TestHub, home: Home
) -> None:
    events, truth = world(40, seed=7)
    trainer = TrainingHome(
        home.data_dir, home.store, ModelRegistry(home.store, home.data_dir), home.sharing, []
    )
    annotate(trainer, events, truth, households=1)
    train_events, train_truth = world(80, seed=1)
    poor = fit(feature_matrix(train_events), random.Random(5).sample(train_truth, 80)).payload
    hub.models.publish(poor, [], FEATURES_VERSION, time.time())
    first = _pull(home)
    assert first.result is Pulled.CANDIDATE, first
    hub.models.publish(GOOD, [], FEATURES_VERSION, time.time() + 1)
    second = _pull(home)
    assert second.result is Pulled.PROMOTED, second
    served = trainer.registry.served()
    assert served is not None
    assert served.id == second.model_id
    assert served.metrics["test_events"] == 40


def test_tokens_are_per_home() -> None:
    assert clip_token("aaaa", "clip") != clip_token("bbbb", "clip")
    assert clip_token("aaaa", "clip") == clip_token("aaaa", "clip")


def test_the_homes_delivery_pulls_the_hubs_model_at_most_once_an_hour(
    hub: TestHub, home: Home
) -> None:
    def pull(client: HubClient, key_id: str, url: str) -> PullOutcome:
        return pull_model(home.store, home.data_dir, client, key_id, url, time.time())

    delivery = HubDelivery(home.sharing, home.deliveries, home.data_dir, pull=pull)
    hub.models.publish(GOOD, [], FEATURES_VERSION, time.time())
    pulled = delivery.run_once().pulled
    assert pulled is not None
    assert "candidate" in pulled
    assert delivery.run_once().pulled is None  # not due again yet
    assert len(ModelRegistry(home.store, home.data_dir).models()) == 1
