"""Dataset rules: which clips go in, their interpolated boxes, the household split, the manifest."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from hearthcam.annotate.workbench import (
    FalseAlarmReason,
    Keyframe,
    LabeledBox,
    ReviewVerdict,
    interpolate,
)
from hearthcam.learn.dataset import (
    DatasetClip,
    Split,
    build_clips,
    parse_keyframes,
    pseudonym,
    split_by_household,
)
from hearthcam.learn.export import ClipCount, ExportOptions, manifest
from hearthcam.learn.formats import ExportFormat
from hearthcam.store.annotations import AnnotationRecord
from hearthcam.store.shares import ShareRecord

KEY = b"k" * 32
KEYFRAMES = (
    Keyframe(2, (LabeledBox((0.1, 0.1, 0.3, 0.5), "person", 0),)),
    Keyframe(6, (LabeledBox((0.5, 0.1, 0.7, 0.5), "person", 0),)),
)


def share(share_id: str, household: int, status: str = "published") -> ShareRecord:
    return ShareRecord(
        share_id, f"event-{share_id}", household, 1, "front", status, "", 0.0, 1e10, 0.0,
        {}, f"{share_id}-receipt", {},
    )  # fmt: skip


def annotation(share_id: str, verdict: str = "threat", reason: str | None = None,
               created: float = 1.0, keyframes: tuple[Keyframe, ...] = KEYFRAMES,
               ) -> AnnotationRecord:  # fmt: skip
    stored = [asdict(k) for k in keyframes]  # as AnnotationStore keeps them (lists, not tuples)
    return AnnotationRecord(0, share_id, f"lease-{share_id}", 7, verdict, reason, stored, created)


def clip(share_id: str, household: str) -> DatasetClip:
    return DatasetClip(share_id, "r" * 64, household, ReviewVerdict.PET, None, KEYFRAMES)


def test_stored_keyframes_parse_back_to_the_workbench_types() -> None:
    stored = [asdict(k) for k in reversed(KEYFRAMES)]
    assert parse_keyframes(stored) == KEYFRAMES


def test_a_clip_interpolates_its_boxes_frame_by_frame() -> None:
    item = clip("a", "h1")
    assert item.boxes_at(0) == ()
    assert item.boxes_at(2) == KEYFRAMES[0].boxes
    (middle,) = item.boxes_at(4)
    assert middle.xyxy == pytest.approx((0.3, 0.1, 0.5, 0.5))
    assert item.boxes_at(7) == ()
    frames = item.frames(8, every=2)
    assert [i for i, _ in frames] == [0, 2, 4, 6]
    assert [len(b) for _, b in frames] == [0, 1, 1, 1]
    assert all(b == interpolate(KEYFRAMES, i) for i, b in frames)


def test_only_published_never_withdrawn_shares_go_in() -> None:
    shares = {
        "pub": share("pub", 3),
        "checking": share("checking", 3, "checking"),
        "disposed": share("disposed", 3, "disposed"),
        "excluded": share("excluded", 4),
        # Shared with a review hub: its annotators' work is the hub's, never this home's set.
        "hub": replace(share("hub", 3), receipt={"hub": {"operator": "Northwind"}}),
    }
    notes = [annotation(s) for s in (*shares, "withdrawn")]  # "withdrawn": its row is gone
    clips = build_clips(notes, shares, excluded={"excluded"}, key=KEY)
    assert [c.share_id for c in clips] == ["pub"]
    assert clips[0].receipt_sha256 == "pub-receipt"
    assert clips[0].keyframes == KEYFRAMES


def test_the_latest_annotation_of_a_share_counts() -> None:
    older = annotation("a", "threat", created=1.0)
    newer = annotation("a", "false_alarm", "shadow", created=2.0)
    (item,) = build_clips([newer, older], {"a": share("a", 3)}, set(), KEY)
    assert item.verdict is ReviewVerdict.FALSE_ALARM
    assert item.reason is FalseAlarmReason.SHADOW


def test_households_appear_only_as_keyed_pseudonyms() -> None:
    (item,) = build_clips([annotation("a")], {"a": share("a", 31337)}, set(), KEY)
    assert "31337" not in item.household
    assert item.household == pseudonym(31337, KEY)
    assert pseudonym(31337, b"other key" * 4) != item.household  # a fresh key, a fresh name
    assert pseudonym(31338, KEY) != item.household


def test_no_household_is_in_both_splits_and_the_split_is_deterministic() -> None:
    items = [clip(f"c{i}", f"h{i % 5}") for i in range(20)]
    first = split_by_household(items, 0.3, seed=4)
    assert first == split_by_household(items, 0.3, seed=4)
    train = {c.household for c in first.train}
    test = {c.household for c in first.test}
    assert train
    assert test
    assert not train & test
    assert len(first.train) + len(first.test) == 20
    assert len(first.test) >= 0.3 * 20
    assert all(first.of(c) is Split.TEST for c in first.test)
    others = {frozenset(c.household for c in split_by_household(items, 0.3, s).test)
              for s in range(10)}  # fmt: skip
    assert len(others) > 1  # the seed matters


def test_one_household_trains_everything_and_says_so() -> None:
    items = [clip(f"c{i}", "h1") for i in range(3)]
    split = split_by_household(items, 0.5)
    assert len(split.train) == 3
    assert split.test == ()
    assert "one household" in split.note


def test_a_zero_test_fraction_keeps_everything_in_train_and_a_bad_one_is_refused() -> None:
    items = [clip("a", "h1"), clip("b", "h2")]
    assert split_by_household(items, 0.0).test == ()
    with pytest.raises(ValueError, match="test fraction"):
        split_by_household(items, 1.0)


def test_the_last_household_always_trains() -> None:
    items = [clip("a", "h1"), clip("b", "h2")]
    split = split_by_household(items, 0.99)
    assert len(split.train) == 1
    assert len(split.test) == 1


def test_the_manifest_lists_every_clip_and_consent_id_in_the_registry_shape() -> None:
    items = [clip("a", "h1"), replace(clip("b", "h2"), receipt_sha256="b" * 64)]
    split = split_by_household(items, 0.5, seed=1)
    counts = {"a": ClipCount(8, 4, 3), "b": ClipCount(8, 4, 3)}
    document = manifest(split, counts, ExportOptions(ExportFormat.COCO, every=2), ["person"], 0.0)
    assert {(c["share"], c["receipt"]) for c in document["clips"]} == {
        ("a", "r" * 64),
        ("b", "b" * 64),
    }
    assert {c["split"] for c in document["clips"]} == {"train", "test"}
    assert document["counts"]["train"] == {"clips": 1, "households": 1, "images": 4, "boxes": 3}
    assert document["format"] == "coco"
    assert document["every"] == 2
    assert document["created"] == "1970-01-01T00:00:00+00:00"
    assert document["code_version"]
