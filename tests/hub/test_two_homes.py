"""Two homes and one hub on a real PostgreSQL: each home (its own SQLite, sealed media, share
rows, delivery) shares a clip with the hub; the hub's own checks (the real models) pass both;
views of each home's clips are logged at the hub and each home's hourly round finds its own and
nothing else; the homes' checkpoints agree (gossip); a model learned from both is pulled by one
home, and the other's withdrawal retires it at the hub and at home takes nothing with it but
the hub's copy of its own clip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.hub.checks import PASSED, HubChecks, ModelInspector
from hearthcam.hub.delivery import HubDelivery
from hearthcam.hub.home import HomeLink, read_check, read_link, read_state
from hearthcam.hub.monitor import compare_checkpoints
from hearthcam.hub.pull import Pulled
from hearthcam.learn.registry import ModelRegistry
from hearthcam.pipeline.features import FEATURES_VERSION
from hearthcam.store.hub_deliveries import DeliveryState
from tests.hub.test_delivery import Home, _home
from tests.hub.test_models import GOOD, _pull
from tests.support.hubs import TestHub, link_home
from tests.support.postgres import new_database
from tests.viewlog.test_log import view

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_hub(tmp_path: Path, postgres_host: str) -> Iterator[TestHub]:
    made = TestHub(tmp_path / "hub", database_url=new_database(postgres_host))
    made.checks = HubChecks.from_url(str(made.database_url), made.clips, ModelInspector)
    made.start()
    try:
        yield made
    finally:
        made.checks.close()
        made.close()


@pytest.mark.timeout(600)
def test_two_homes_share_check_pull_and_withdraw_through_one_hub(
    tmp_path: Path, pg_hub: TestHub
) -> None:
    with ExitStack() as opened:
        homes: list[Home] = []
        for name in ("maple", "oak"):
            made = opened.enter_context(contextmanager(_home)(tmp_path / name))
            made.home_id = link_home(made.data_dir, pg_hub, name).home_id
            homes.append(made)
        _walk(pg_hub, homes)


def _walk(pg_hub: TestHub, homes: list[Home]) -> None:
    maple, oak = homes
    shares = {}
    for home in homes:
        share = home.share()
        home.publish(share)
        assert home.delivery.run_once().sent == [share.id]
        shares[home.home_id] = share.id
    assert pg_hub.checks is not None
    outcomes = pg_hub.checks.run_once()  # the real scan and face check
    assert sorted(o.state for o in outcomes) == [PASSED, PASSED]

    for home in homes:  # an annotator's views at the hub, one per clip
        pg_hub.log.append(view(pg_hub.log.size(), household=home.home_id, viewer=3))
    for home in homes:
        # A round now (the server's delivery did one at its first pass, an hour's wait ago).
        fresh = HubDelivery(home.sharing, home.deliveries, home.data_dir)
        assert fresh.run_once().checked is True
        record = read_check(home.data_dir)
        assert record is not None
        assert (record["views"], record["size"]) == (1, 2)  # its own view, of the log's 2
    kept = []
    for home in homes:
        state = read_state(home.data_dir, _link(home))
        assert state.checkpoint is not None
        kept.append(state.checkpoint)
    assert compare_checkpoints(_log_key(pg_hub), kept[0], kept[1], ()) is None  # gossip

    pg_hub.models.publish(GOOD, pg_hub.models.held_tokens(), FEATURES_VERSION, time.time())
    pulled = _pull(maple)
    assert pulled.result is Pulled.CANDIDATE
    record_here = ModelRegistry(maple.store, maple.data_dir).get(str(pulled.model_id))
    assert record_here is not None
    assert record_here.clips == [shares[maple.home_id]]  # only its own clip, by token

    oak.sharing.withdraw(shares[oak.home_id])
    delivery = oak.deliveries.get(shares[oak.home_id])
    assert delivery is not None
    assert delivery.state is DeliveryState.DELETED
    assert pg_hub.models.latest() is None  # retired: it learned from oak's clip
    assert [c.clip_id for c in pg_hub.clips.list(maple.home_id)] != []
    assert pg_hub.clips.list(oak.home_id) == []
    maple_model = ModelRegistry(maple.store, maple.data_dir).get(str(pulled.model_id))
    assert maple_model is not None
    assert maple_model.status.value == "candidate"  # maple withdrew nothing


def _link(home: Home) -> HomeLink:
    link = read_link(home.data_dir)
    assert link is not None
    return link


def _log_key(hub: TestHub) -> Ed25519PublicKey:
    key = hub.log.key
    assert key is not None
    return key.public_key
