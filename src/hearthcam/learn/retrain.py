"""One training run over the store: annotated events in, an evaluated, registered model out.

``train_once`` gathers the examples (the latest annotation of each published, never withdrawn
shared clip, with the features of its event as the live path saw it), splits them by household,
fits the verdict model on train, judges it and the currently served model (or the rules) on the
same held-out households, registers the candidate with its lineage and promotes it only if it
beats the current one (``learn.evaluate.beats``). Queued retrains (after a withdrawal) are
answered by any run that starts after them.

**A stable split.** A household goes to test when the HMAC of its id, under a key kept in the
data directory (``learn-split.key``, made once), falls below the test fraction: the same
households are held out in every run, so a model is never compared on a home it trained on.
With fewer than two households in the data there is nothing to hold out by household; the
newest quarter of the events (by time) is held out instead, and the run says so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam.errors import HearthcamError
from hearthcam.learn.dataset import DatasetClip
from hearthcam.learn.evaluate import Metrics, beats, camera_days, evaluate, rules_predictions
from hearthcam.learn.export import code_version, gather
from hearthcam.learn.registry import ModelRecord, ModelRegistry
from hearthcam.learn.train import fit
from hearthcam.pipeline.features import FEATURES_VERSION, feature_matrix
from hearthcam.pipeline.learned import ModelFileError, VerdictNet
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore
from hearthcam.types import Event

SPLIT_KEY_FILE: Final = "learn-split.key"
RULES: Final = "rules"


class TrainingError(HearthcamError):
    """Training cannot run (too few annotated events, one verdict only)."""


@dataclass(frozen=True)
class Example:
    """One annotated event."""

    clip: DatasetClip
    event: Event

    @property
    def verdict(self) -> str:
        return self.clip.verdict.value


@dataclass(frozen=True)
class Outcome:
    """What a training run did."""

    candidate: ModelRecord
    promoted: bool
    why: str
    baseline: str  # the model compared against: an id, or "rules"
    candidate_metrics: Metrics
    baseline_metrics: Metrics
    train: int
    test: int
    split_note: str


class Trainer(Protocol):
    """Runs one training over the store (``train_once``): in this process, or as a Ray task on
    a cluster's node (``hearthcam.cluster.training``)."""

    def __call__(
        self,
        now: float,
        *,
        test_fraction: float = 0.25,
        seed: int = 0,
        step: Callable[[str], None] = ...,
    ) -> Outcome: ...


def local_trainer(store: Store, data_dir: Path) -> Trainer:
    """``train_once`` over ``store`` in this process."""

    def train(
        now: float,
        *,
        test_fraction: float = 0.25,
        seed: int = 0,
        step: Callable[[str], None] = lambda _: None,
    ) -> Outcome:
        return train_once(store, data_dir, now, test_fraction=test_fraction, seed=seed, step=step)

    return train


def split_key(data_dir: Path) -> bytes:
    """The household split's key (made on first use, readable by the owner only)."""
    path = data_dir / SPLIT_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()


def examples(store: Store, data_dir: Path, key: bytes) -> list[Example]:
    """The annotated events that may train a model (households as pseudonyms under ``key``).

    One example per event: a long event's clips can be shared one by one, and the model judges
    the event, so it takes the most serious verdict its clips were given (a threat seen in any
    clip makes the event a threat)."""
    shares = ShareStore(store)
    found: dict[str, Example] = {}
    rank = {verdict: i for i, verdict in enumerate(ReviewVerdict)}  # threat first
    for clip in sorted(gather(store, data_dir, key), key=lambda c: c.share_id):
        share = shares.get(clip.share_id)
        event = None if share is None else store.get_event(share.event_id)
        if event is None:
            continue
        kept = found.get(event.id)
        if kept is None or rank[clip.verdict] < rank[kept.clip.verdict]:
            found[event.id] = Example(clip, event)
    return list(found.values())


def _draw(pseudonym: str, key: bytes) -> float:
    """A household's fixed place in [0, 1): the same in every run with this key."""
    digest = hmac.new(key, b"split:" + pseudonym.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(
    items: Sequence[Example], key: bytes, test_fraction: float
) -> tuple[list[Example], list[Example], str]:
    """Train, test and a note (see the module docstring)."""
    households = {e.clip.household for e in items}
    if len(households) >= 2:
        test_homes = {h for h in households if _draw(h, key) < test_fraction}
        if not test_homes:  # keep a test split: the household nearest the cut
            test_homes = {min(households, key=lambda h: _draw(h, key))}
        if test_homes == households:  # and a train split
            test_homes.discard(max(test_homes, key=lambda h: _draw(h, key)))
        train = [e for e in items if e.clip.household not in test_homes]
        test = [e for e in items if e.clip.household in test_homes]
        return (
            train,
            test,
            f"by household: {len(households) - len(test_homes)} train, {len(test_homes)} test",
        )
    ordered = sorted(items, key=lambda e: e.event.wall_start)
    cut = len(ordered) - max(1, round(len(ordered) * test_fraction)) if len(ordered) > 1 else 1
    note = "one household: the newest events are held out (a split by time, not by household)"
    return ordered[:cut], ordered[cut:], note


def served_baseline(registry: ModelRegistry) -> tuple[str, VerdictNet | None]:
    """The model served now and its net (``RULES`` and None when the rules decide, also when
    the served model's file does not load: the live path falls back to the rules then)."""
    served = registry.served()
    if served is None:
        return RULES, None
    try:
        return served.id, VerdictNet.from_bytes(registry.file_of(served.id).read_bytes())
    except (OSError, ModelFileError):
        return RULES, None  # what the live path falls back to as well


def _manifest(train: list[Example], test: list[Example], note: str, now: float) -> dict[str, Any]:
    clips = [
        {"share": e.clip.share_id, "receipt": e.clip.receipt_sha256, "split": part,
         "verdict": e.verdict}
        for part, items in (("train", train), ("test", test)) for e in items
    ]  # fmt: skip
    return {"kind": "verdict", "features_version": FEATURES_VERSION, "split": note,
            "created": now, "clips": clips}  # fmt: skip


def train_once(
    store: Store,
    data_dir: Path,
    now: float,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    step: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Trains, evaluates and registers one model; promotes it if it beats the served one."""
    registry = ModelRegistry(store, data_dir)
    answered = [r.id for r in registry.retrains()]
    step("gathering annotated events")
    key = split_key(data_dir)
    train, test, note = split(examples(store, data_dir, key), key, test_fraction)
    if len({e.verdict for e in train}) < 2:
        raise TrainingError(
            f"{len(train)} annotated events in train with fewer than two different verdicts: "
            "annotate more shared clips first"
        )
    step(f"fitting on {len(train)} events")
    model = fit(feature_matrix([e.event for e in train]), [e.verdict for e in train], seed=seed)
    step(f"evaluating on {len(test)} held-out events")
    truth = [e.verdict for e in test]
    days = camera_days(e.event for e in test)
    x_test = feature_matrix([e.event for e in test])
    candidate = evaluate(truth, model.predict(x_test) if test else [], days)
    baseline_id, baseline_net = served_baseline(registry)
    held = [e.event for e in test]
    baseline_said = (
        rules_predictions(held) if baseline_net is None else baseline_net.predict(x_test)
    )
    baseline = evaluate(truth, baseline_said if test else [], days)
    promote, why = beats(candidate, baseline)
    metrics = {"candidate": candidate.as_dict(), "baseline": baseline.as_dict(),
               "baseline_model": baseline_id, "threat_threshold": model.threshold,
               "decision": why, "train_events": len(train), "test_events": len(test)}  # fmt: skip
    step("registering")
    parent = None if baseline_id == RULES else baseline_id
    record = registry.register(
        _manifest(train, test, note, now), metrics, code_version(), now, parent, model.payload
    )
    if promote:
        registry.promote(record.id, now)
    registry.answer_retrains(answered)
    return Outcome(
        registry.get(record.id) or record, promote, why, baseline_id, candidate, baseline,
        len(train), len(test), note,
    )  # fmt: skip
