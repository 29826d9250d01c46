"""The registry's lineage: a withdrawn clip takes every model trained with it out of service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthcam.learn.registry import ModelRegistry, ModelStatus, manifest_digest
from hearthcam.privacy.consent import Sharing
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.store_fixtures import BACKENDS


def manifest(*shares: str) -> dict[str, object]:
    return {"clips": [{"share": s, "receipt": "r" * 64} for s in shares], "split": "household"}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each registry test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Iterator[ModelRegistry]:
    with Store.open(database_url) as store:
        yield ModelRegistry(store, tmp_path / "data")


def test_the_served_model_is_the_latest_promoted_and_rollback_goes_back(
    registry: ModelRegistry,
) -> None:
    assert registry.served() is None  # rules
    first = registry.register(manifest("a", "b"), {"recall": 0.9}, "v1", NOW, payload=b"m1")
    assert first.status is ModelStatus.CANDIDATE
    assert first.manifest_sha256 == manifest_digest(manifest("a", "b"))
    assert registry.served() is None  # a candidate is not served
    registry.promote(first.id, NOW + 1)
    second = registry.register(manifest("a", "c"), {"recall": 0.95}, "v2", NOW + 2, first.id)
    registry.promote(second.id, NOW + 3)
    served = registry.served()
    assert served is not None
    assert served.id == second.id
    assert served.parent == first.id
    back = registry.rollback(NOW + 4)
    assert back is not None
    assert back.id == first.id
    retired = registry.get(second.id)
    assert retired is not None
    assert retired.status is ModelStatus.RETIRED
    assert registry.file_of(first.id).read_bytes() == b"m1"


def test_a_withdrawn_clip_taints_its_models_and_queues_a_retrain(registry: ModelRegistry) -> None:
    old = registry.register(manifest("a", "b"), {}, "v1", NOW, payload=b"old")
    new = registry.register(manifest("b", "c"), {}, "v1", NOW + 1, payload=b"new")
    clean = registry.register(manifest("c"), {}, "v1", NOW + 2, payload=b"clean")
    for model in (old, new, clean):
        registry.promote(model.id, NOW + 3)
    assert {m.id for m in registry.models_using("b")} == {old.id, new.id}
    actions = registry.on_withdrawn("b")
    assert len(actions) == 3
    assert actions[-1] == "a retrain without this clip was queued"
    for model in (old, new):
        tainted = registry.get(model.id)
        assert tainted is not None
        assert tainted.status is ModelStatus.TAINTED
        assert not registry.file_of(model.id).exists()
        with pytest.raises(ValueError, match="tainted"):
            registry.promote(model.id, NOW + 5)
    served = registry.served()
    assert served is not None
    assert served.id == clean.id
    assert "b" not in served.clips  # no served model has the clip in its lineage
    assert registry.models_using("b") == []  # and no row names it any more
    for model in (old, new):
        record = registry.get(model.id)
        assert record is not None
        assert "b" not in str(record.manifest)
        assert {"share": "withdrawn", "receipt": "withdrawn"} in record.manifest["clips"]
    [retrain] = registry.retrains()
    assert retrain.excluded == []
    assert registry.on_withdrawn("b") == []  # once


def test_withdrawing_a_share_through_sharing_tells_the_registry(
    tmp_path: Path, plain_clip: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    data = tmp_path / "data"
    registry = ModelRegistry(store, data)
    sharing = Sharing(ShareStore(store), data, listeners=[registry])
    event = event_with_clip(data, plain_clip)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    model = registry.register(manifest(share.id), {}, "v1", NOW, payload=b"x")
    registry.promote(model.id, NOW)
    done = sharing.withdraw(share.id)
    assert done is not None
    assert any("retired" in a for a in done.actions)
    assert registry.served() is None  # back to rules
    store.close()
