"""Datasets built from annotations alone: which shared clips go in, their boxes, and the split.

Pure: rows in, ``DatasetClip`` items out, so every rule is tested without a database. Only a
published share that its owner has not withdrawn, and that no earlier withdrawal excluded
(``ModelRegistry.excluded``), may go in; its frames are read later from the redacted copy.
A household appears only as a pseudonym (the dataset leaves the box), and the split never puts
one household in both train and test, so a test score is never a household seen in training.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hearthcam.annotate.workbench import (
    FalseAlarmReason,
    Keyframe,
    LabeledBox,
    ReviewVerdict,
    interpolate,
)
from hearthcam.privacy.consent import for_hub
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.annotations import AnnotationRecord
from hearthcam.store.shares import ShareRecord


class Split(enum.StrEnum):
    """Which part of the dataset a clip is in."""

    TRAIN = "train"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class DatasetClip:
    """One annotated, published shared clip as a dataset sees it."""

    share_id: str
    receipt_sha256: str  # the consent id: the receipt the owner agreed to
    household: str  # a pseudonym, never the household's id
    verdict: ReviewVerdict
    reason: FalseAlarmReason | None
    keyframes: tuple[Keyframe, ...]

    def boxes_at(self, frame: int) -> tuple[LabeledBox, ...]:
        """The boxes on ``frame``, interpolated between the annotator's keyframes."""
        return interpolate(self.keyframes, frame)

    def frames(self, count: int, every: int = 1) -> list[tuple[int, tuple[LabeledBox, ...]]]:
        """Every ``every``-th frame of a clip of ``count`` frames with its boxes."""
        return [(i, self.boxes_at(i)) for i in range(0, count, max(1, every))]

    @property
    def labels(self) -> set[str]:
        """Every label its keyframes use."""
        return {b.label for k in self.keyframes for b in k.boxes}


@dataclass(frozen=True, slots=True)
class DatasetSplit:
    """The clips of each split, and why the split is not what was asked when it could not be."""

    train: tuple[DatasetClip, ...]
    test: tuple[DatasetClip, ...]
    note: str = ""

    def of(self, clip: DatasetClip) -> Split:
        """Which split a clip is in."""
        return Split.TEST if clip in self.test else Split.TRAIN


def pseudonym(household_id: int, key: bytes) -> str:
    """A household's name in a dataset: an HMAC under ``key``, so without the key it is not
    the id (a bare hash of a small integer would be guessed in microseconds)."""
    digest = hmac.new(key, str(household_id).encode(), hashlib.sha256).hexdigest()
    return f"h{digest[:12]}"


def parse_keyframes(stored: Sequence[Any]) -> tuple[Keyframe, ...]:
    """Keyframes from their stored JSON (``asdict(Keyframe)``: lists where tuples were)."""
    keyframes = []
    for entry in stored:
        boxes = tuple(
            LabeledBox(
                (
                    float(b["xyxy"][0]),
                    float(b["xyxy"][1]),
                    float(b["xyxy"][2]),
                    float(b["xyxy"][3]),
                ),
                str(b["label"]),
                int(b.get("track", 0)),
            )
            for b in entry.get("boxes", [])
        )
        keyframes.append(Keyframe(int(entry["frame"]), boxes))
    return tuple(sorted(keyframes, key=lambda k: k.frame))


def usable(share: ShareRecord | None, excluded: set[str]) -> bool:
    """Whether a share may go into a dataset: published for this home's annotators (not for a
    review hub's), and never withdrawn before."""
    return (
        share is not None
        and share.status == ShareStatus.PUBLISHED.value
        and not for_hub(share.receipt)
        and share.id not in excluded
    )


def build_clips(
    annotations: Iterable[AnnotationRecord],
    shares: Mapping[str, ShareRecord],
    excluded: set[str],
    key: bytes,
) -> list[DatasetClip]:
    """One item per usable annotated share (its latest annotation), in share id order."""
    latest: dict[str, AnnotationRecord] = {}
    for annotation in annotations:
        kept = latest.get(annotation.share_id)
        if kept is None or (annotation.created, annotation.id) >= (kept.created, kept.id):
            latest[annotation.share_id] = annotation
    clips = []
    for share_id in sorted(latest):
        share = shares.get(share_id)
        if share is None or not usable(share, excluded):
            continue
        annotation = latest[share_id]
        clips.append(
            DatasetClip(
                share_id, share.receipt_sha256, pseudonym(share.household_id, key),
                ReviewVerdict(annotation.verdict),
                None if annotation.reason is None else FalseAlarmReason(annotation.reason),
                parse_keyframes(annotation.keyframes),
            )
        )  # fmt: skip
    return clips


def split_by_household(
    items: Sequence[DatasetClip], test_fraction: float, seed: int = 0
) -> DatasetSplit:
    """Whole households to test, in a seeded shuffle, until ``test_fraction`` of the clips are
    there; at least one household always stays in train. Deterministic for one seed."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("the test fraction must be at least 0 and below 1")
    households = sorted({c.household for c in items})
    if len(households) < 2:
        note = "one household only: every clip is in train, there is no test split"
        return DatasetSplit(tuple(items), (), note if households and test_fraction else "")
    random.Random(seed).shuffle(households)
    per_household = {h: sum(c.household == h for c in items) for h in households}
    wanted, chosen, taken = test_fraction * len(items), set[str](), 0
    for household in households[:-1]:  # the last always trains
        if taken >= wanted:
            break
        chosen.add(household)
        taken += per_household[household]
    test = tuple(c for c in items if c.household in chosen)
    train = tuple(c for c in items if c.household not in chosen)
    return DatasetSplit(train, test)
