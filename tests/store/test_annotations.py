"""The leases and annotations tables on real SQLite and PostgreSQL: one active lease per clip
and per annotator (enforced by the database), compare-and-set moves, quota counts, the queue's
exclusions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hearthcam.store.annotations import AnnotationRecord, AnnotationStore, LeaseRecord, LeaseTaken
from hearthcam.store.db import Store


@pytest.fixture
def rows(database_url: str) -> Iterator[AnnotationStore]:
    store = Store.open(database_url)
    yield AnnotationStore(store)
    store.close()


def lease(lease_id: str, share: str, annotator: int, created: float = 100.0) -> LeaseRecord:
    return LeaseRecord(lease_id, share, annotator, "active", created, created + 600, None, {})


def test_one_active_lease_per_clip_and_per_annotator(rows: AnnotationStore) -> None:
    rows.add_lease(lease("a" * 32, "s1", 1))
    with pytest.raises(LeaseTaken):
        rows.add_lease(lease("b" * 32, "s1", 2))  # the clip is held
    with pytest.raises(LeaseTaken):
        rows.add_lease(lease("c" * 32, "s2", 1))  # the annotator holds one
    assert rows.set_state("a" * 32, "active", "released", 200.0)
    assert not rows.set_state("a" * 32, "active", "expired", 201.0)  # ended once
    rows.add_lease(lease("b" * 32, "s1", 2))
    rows.add_lease(lease("c" * 32, "s2", 1))
    ended = rows.lease("a" * 32)
    assert ended is not None
    assert (ended.state, ended.ended) == ("released", 200.0)


def test_quota_counts_and_queue_exclusions(rows: AnnotationStore) -> None:
    rows.add_lease(lease("a" * 32, "s1", 1, created=50.0))
    rows.set_state("a" * 32, "active", "released", 60.0)
    rows.add_lease(lease("b" * 32, "s2", 1, created=150.0))
    rows.add_lease(lease("c" * 32, "s3", 2, created=150.0))
    assert rows.taken_since(1, 100.0) == 1
    assert rows.taken_since(1, 0.0) == 2
    rows.set_state("c" * 32, "active", "submitted", 160.0)
    rows.add_annotation(
        AnnotationRecord(0, "s3", "c" * 32, 2, "pet", None, [{"frame": 1, "boxes": []}], 160.0)
    )
    # Annotator 1: seen s1 and s2 themselves; s3 is annotated already.
    assert rows.excluded_for(1) == {"s1", "s2", "s3"}
    assert rows.excluded_for(3) == {"s2", "s3"}  # s2 is held now
    assert [a.lease_id for a in rows.annotations("s3")] == ["c" * 32]
    assert rows.delete_annotations("s3") == 1
    assert rows.annotations() == []


def test_filters_find_due_leases(rows: AnnotationStore) -> None:
    rows.add_lease(lease("a" * 32, "s1", 1, created=0.0))
    rows.add_lease(lease("b" * 32, "s2", 2, created=500.0))
    due = rows.leases(state="active", expires_before=700.0)
    assert [d.id for d in due] == ["a" * 32]
    rows.set_shown("a" * 32, {"frames": 20})
    assert rows.leases(share_id="s1")[0].shown == {"frames": 20}
