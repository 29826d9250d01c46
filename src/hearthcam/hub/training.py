"""Training at the hub: one verdict model from many homes' annotated clips, judged on homes it
never saw, signed with its lineage.

An example is a clip the hub holds that annotators annotated and whose home sent the numbers its
model reads from the event (``hub_clip_features``, of this ``FEATURES_VERSION``); a clip with
several annotations takes the most serious verdict (a threat seen by anyone makes it a threat),
as at home. The same fitting as at home (``learn.train.fit``) runs twice:

1. **held-out homes**: the homes are split by a seeded draw (about a quarter held out, at least
   one, never all); the model fitted on the others is judged on theirs against the rules'
   verdicts (read from the same vectors: the rules' one-hot features), with the home's own
   promotion rule (``learn.evaluate.beats``). These figures are what the operator is told: how
   the pooled model does on a home that contributed nothing.
2. **all homes**: the model that is signed and offered (``hub.models``), its lineage the tokens
   of every clip it learned from (``clip_token``: per home key, so a home recognises its own
   clips and nobody else's). Deleting any of those clips retires it (``HubModels.retire_clip``);
   the next training leaves the clip out.

A home still judges the model on its own annotations before serving it (``hub.pull``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam.hub.clips import HubClips, read_features
from hearthcam.hub.desk import read_annotations
from hearthcam.hub.identity import HubError
from hearthcam.hub.models import HubModels, SignedModel, clip_token
from hearthcam.hub.registry import hub_homes, reading
from hearthcam.learn.evaluate import RULES_AS_REVIEW, Metrics, beats, evaluate
from hearthcam.learn.train import fit
from hearthcam.pipeline.features import FEATURE_NAMES, FEATURES_VERSION
from hearthcam.types import Verdict

__all__ = [
    "Fitted",
    "HeldOut",
    "PooledExample",
    "TrainingRefused",
    "TrainingSchedule",
    "fit_pooled",
    "pooled_examples",
    "publish_pooled",
    "train_pooled",
]

log = logging.getLogger(__name__)

MIN_EXAMPLES: Final = 10
HELD_OUT_SHARE: Final = 0.25
_RULE_COLUMNS: Final = tuple(
    (FEATURE_NAMES.index(f"rules_{v.value}"), v)
    for v in (Verdict.THREAT, Verdict.PET, Verdict.VEHICLE, Verdict.MOTION)
)


class TrainingRefused(HubError):
    """Too few annotated clips (or one verdict only) to train on; the message says what."""


@dataclass(frozen=True, slots=True)
class PooledExample:
    """One annotated clip: whose, its feature vector and its verdict."""

    home_id: int
    clip_id: str
    features: tuple[float, ...]
    verdict: str


@dataclass(frozen=True, slots=True)
class HeldOut:
    """The model fitted without some homes, judged on theirs (and the rules on the same)."""

    train_homes: int
    held_out_homes: int
    model: Metrics
    rules: Metrics
    beats_rules: bool
    why: str


@dataclass(frozen=True, slots=True)
class PooledOutcome:
    """What one training at the hub did."""

    model: SignedModel
    examples: int
    homes: int
    held_out: HeldOut | None  # None with a single home: nothing to hold out


def pooled_examples(clips: HubClips | Engine) -> list[PooledExample]:
    """Every annotated clip held with features of this version, most serious verdict first
    (read from the hub's clips, or from its database by a worker on another node)."""
    engine = clips.engine if isinstance(clips, HubClips) else clips
    rank = {verdict.value: i for i, verdict in enumerate(ReviewVerdict)}  # threat first
    features = read_features(engine)
    chosen: dict[tuple[int, str], str] = {}
    for annotation in read_annotations(engine):
        key = (annotation.home_id, annotation.clip_id)
        verdict = annotation.verdict.value
        if key not in chosen or rank[verdict] < rank[chosen[key]]:
            chosen[key] = verdict
    examples = []
    for key, verdict in sorted(chosen.items()):
        found = features.get(key)
        if found is None or found.version != FEATURES_VERSION:
            continue
        if len(found.values) != len(FEATURE_NAMES):
            continue
        examples.append(PooledExample(key[0], key[1], found.values, verdict))
    return examples


def _matrix(examples: Sequence[PooledExample]) -> np.ndarray:
    return np.asarray([e.features for e in examples], dtype=np.float32)


def rules_said(examples: Sequence[PooledExample]) -> list[str]:
    """The rules' verdict of each example, read from its one-hot rule features."""
    said = []
    for example in examples:
        best = max(_RULE_COLUMNS, key=lambda column: example.features[column[0]])
        said.append(RULES_AS_REVIEW[best[1]])
    return said


def _held_out(examples: Sequence[PooledExample], seed: int) -> HeldOut | None:
    homes = sorted({e.home_id for e in examples})
    if len(homes) < 2:
        return None
    drawn = random.Random(seed).sample(homes, len(homes))
    count = min(len(homes) - 1, max(1, round(len(homes) * HELD_OUT_SHARE)))
    held = set(drawn[:count])
    train = [e for e in examples if e.home_id not in held]
    test = [e for e in examples if e.home_id in held]
    if len({e.verdict for e in train}) < 2:
        return None
    fitted = fit(_matrix(train), [e.verdict for e in train], seed=seed)
    truth = [e.verdict for e in test]
    # Camera-days are not known at the hub (no dates leave a home): per-event figures only.
    model = evaluate(truth, fitted.predict(_matrix(test)), 0.0)
    rules = evaluate(truth, rules_said(test), 0.0)
    better, why = beats(model, rules)
    return HeldOut(len(homes) - count, count, model, rules, better, why)


def home_key_ids(clips: HubClips) -> dict[int, str]:
    """Each linked (or once linked) home's key id, by home id."""
    with reading(clips.engine) as connection:
        return {
            int(row.id): row.key_id
            for row in connection.execute(select(hub_homes.c.id, hub_homes.c.key_id))
        }


@dataclass(frozen=True, slots=True)
class Fitted:
    """A model fitted on pooled examples, not yet signed: the fitted model's payload, the clips
    it learned from (home id, clip id) and how it did without a quarter of the homes."""

    payload: bytes
    learned: tuple[tuple[int, str], ...]
    held_out: HeldOut | None


def fit_pooled(examples: Sequence[PooledExample], seed: int = 0) -> Fitted:
    """Judges on held-out homes, then fits on all ``examples``.

    TrainingRefused when there are fewer than ``MIN_EXAMPLES`` of them or one verdict."""
    verdicts = {e.verdict for e in examples}
    if len(examples) < MIN_EXAMPLES or len(verdicts) < 2:
        raise TrainingRefused(
            f"{len(examples)} annotated clips with features and {len(verdicts)} different "
            f"verdicts: at least {MIN_EXAMPLES} and two verdicts are needed"
        )
    held_out = _held_out(examples, seed)
    fitted = fit(_matrix(examples), [e.verdict for e in examples], seed=seed)
    learned = tuple((e.home_id, e.clip_id) for e in examples)
    return Fitted(fitted.payload, learned, held_out)


def publish_pooled(clips: HubClips, models: HubModels, fitted: Fitted, now: float) -> PooledOutcome:
    """Signs and offers ``fitted`` with the lineage of the clips it learned from (the hub's key
    never leaves the process that serves it: a fit made on another node is signed here).

    TrainingRefused (and the model retired at once) when one of those clips was deleted while
    the model was fitted."""
    keys = home_key_ids(clips)
    lineage = [clip_token(keys[home], clip) for home, clip in fitted.learned]
    model = models.publish(fitted.payload, lineage, FEATURES_VERSION, now)
    # A clip deleted while the model was fitted retired no model yet (this one was not
    # published): retire it now, so no offered model ever holds a deleted clip.
    still = clips.features()
    gone = [t for t, key in zip(lineage, fitted.learned, strict=True) if key not in still]
    if gone:
        models.retire_using(gone, now)
        raise TrainingRefused(f"{len(gone)} clips were deleted while the model was fitted")
    homes = len({home for home, _ in fitted.learned})
    return PooledOutcome(model, len(fitted.learned), homes, fitted.held_out)


def train_pooled(clips: HubClips, models: HubModels, now: float, seed: int = 0) -> PooledOutcome:
    """Fits, judges on held-out homes, fits on all and publishes one signed model, here.

    TrainingRefused when there are fewer than ``MIN_EXAMPLES`` usable clips or one verdict."""
    return publish_pooled(clips, models, fit_pooled(pooled_examples(clips), seed), now)


class TrainingSchedule:
    """When ``hub serve`` trains on its own: whenever the annotated clips changed since the
    last training and either ``every`` seconds passed since it or no model is offered (none
    yet, or the last was retired by a withdrawal: a new one follows at the next look)."""

    def __init__(
        self,
        clips: HubClips,
        models: HubModels,
        every: float,
        clock: Callable[[], float] = time.time,
        fitter: Callable[[int], Fitted] | None = None,
    ) -> None:
        """``fitter(seed)`` fits on the pooled examples (default: here, in this process;
        ``hub.remote.RayTraining`` fits on a Ray node); the model is signed here."""
        self._clips = clips
        self._fit = fitter or (lambda seed: fit_pooled(pooled_examples(clips), seed))
        self._models = models
        self._every = every
        self._clock = clock
        self._trained: frozenset[tuple[int, str, str]] | None = None
        self._at = float("-inf")

    def run_once(self) -> PooledOutcome | None:
        """Trains if it is due; the outcome, or None when it was not due or was refused."""
        now = self._clock()
        examples = frozenset(
            (e.home_id, e.clip_id, e.verdict) for e in pooled_examples(self._clips)
        )
        if examples == self._trained:
            return None
        if now - self._at < self._every and self._models.latest() is not None:
            return None
        try:
            outcome = publish_pooled(self._clips, self._models, self._fit(0), now)
        except TrainingRefused as why:
            self._trained, self._at = examples, now  # not again until they change
            log.info("the hub did not train: %s", why)
            return None
        # Any other failure (a lost node, a database error) is tried again at the next look.
        self._trained, self._at = examples, now
        log.info(
            "the hub trained model %s on %d clips from %d homes",
            outcome.model.model_id, outcome.examples, outcome.homes,
        )  # fmt: skip
        return outcome

    def run_forever(self, stop: threading.Event, interval: float = 60.0) -> None:
        """Looks at once (a hub that starts with annotated clips and no model trains now),
        then every ``interval`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("the hub's training failed; it is tried again when next due")
            stop.wait(interval)
