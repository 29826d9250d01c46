"""Fitting the verdict model: feature rows and annotators' verdicts in, an ONNX model out.

A random forest (scikit-learn, balanced class weights, shallow trees: hundreds of examples, not
millions) over ``pipeline.features``, converted by skl2onnx. The file carries its contract in the
ONNX metadata (classes, threat threshold, features version) so the live path needs nothing but
ONNX Runtime to run it, and no pickle is ever loaded.

The **threat threshold** is chosen on out-of-fold predictions of the training set: the highest
probability that still keeps ``target_recall`` of the training threats alert-worthy (never above
0.5, so a threat the model prefers is always one). Missing a burglar costs more than a false
alert; the threshold is where the model trades one for the other, and the evaluation then
checks the trade on households it never saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from hearthcam.pipeline.features import FEATURE_NAMES, FEATURES_VERSION
from hearthcam.pipeline.learned import (
    META_CLASSES,
    META_FEATURES,
    META_THRESHOLD,
    THREAT,
    VerdictNet,
)

DEFAULT_TARGET_RECALL: Final = 0.95
MAX_THRESHOLD: Final = 0.5
MIN_THRESHOLD: Final = 0.05


@dataclass(frozen=True)
class Forest:
    """The forest's size (small: the box has 2 cores and the model runs on every event)."""

    trees: int = 150
    max_depth: int = 6
    min_leaf: int = 2


@dataclass(frozen=True)
class TrainedModel:
    """A fitted verdict model: its ONNX file and the loaded net that runs it."""

    payload: bytes
    net: VerdictNet

    @property
    def classes(self) -> tuple[str, ...]:
        return self.net.classes

    @property
    def threshold(self) -> float:
        return self.net.threshold

    def predict_proba(self, x: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """(n, len(classes)) probabilities, by the ONNX file the live path would run."""
        return self.net.proba(x)

    def predict(self, x: NDArray[np.floating[Any]]) -> list[str]:
        """The verdict per row, with the threat threshold applied."""
        return self.net.predict(x)


def _forest(spec: Forest, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=spec.trees, max_depth=spec.max_depth, min_samples_leaf=spec.min_leaf,
        class_weight="balanced_subsample", random_state=seed, n_jobs=1,
    )  # fmt: skip


def choose_threshold(
    threat_p: NDArray[np.float64], is_threat: NDArray[np.bool_], target: float
) -> float:
    """The highest threshold keeping ``target`` of the true threats at or above it."""
    scores = np.sort(threat_p[is_threat])
    if len(scores) == 0:
        return MAX_THRESHOLD
    allowed_misses = int(np.floor((1.0 - target) * len(scores) + 1e-9))
    threshold = float(scores[allowed_misses]) - 1e-6  # ties stay above it
    return float(np.clip(threshold, MIN_THRESHOLD, MAX_THRESHOLD))


def _out_of_fold(x: NDArray[np.float32], y: NDArray[np.str_], spec: Forest, seed: int) -> Any:
    """Out-of-fold probabilities of threat (None when a class is too rare to fold)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    _, counts = np.unique(y, return_counts=True)
    folds = min(3, int(counts.min()))
    if folds < 2 or THREAT not in set(y.tolist()):
        return None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p = cross_val_predict(_forest(spec, seed), x, y, cv=splitter, method="predict_proba")
    classes = sorted(set(y.tolist()))
    return np.asarray(p[:, classes.index(THREAT)], dtype=np.float64)


def _to_onnx(model: Any, threshold: float) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    converted = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    converted.doc_string = "hearthcam verdict model: " + ", ".join(FEATURE_NAMES)
    for key, value in (
        (META_CLASSES, json.dumps([str(c) for c in model.classes_])),
        (META_THRESHOLD, repr(threshold)),
        (META_FEATURES, str(FEATURES_VERSION)),
    ):
        entry = converted.metadata_props.add()
        entry.key, entry.value = key, value
    return bytes(converted.SerializeToString())


def fit(
    x: NDArray[np.floating[Any]],
    y: Sequence[str],
    *,
    seed: int = 0,
    target_recall: float = DEFAULT_TARGET_RECALL,
    forest: Forest = Forest(),
) -> TrainedModel:
    """Fits the verdict model on feature rows ``x`` and their verdicts ``y``."""
    rows = np.asarray(x, dtype=np.float32)
    labels = np.asarray([str(v) for v in y])
    if rows.ndim != 2 or rows.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"expected rows of {len(FEATURE_NAMES)} features, got {rows.shape}")
    if len(rows) != len(labels) or len(set(labels.tolist())) < 2:
        raise ValueError("need one verdict per row and at least two different verdicts")
    oof = _out_of_fold(rows, labels, forest, seed)
    threshold = (
        MAX_THRESHOLD if oof is None else choose_threshold(oof, labels == THREAT, target_recall)
    )
    model = _forest(forest, seed).fit(rows, labels)
    payload = _to_onnx(model, threshold)
    return TrainedModel(payload, VerdictNet.from_bytes(payload))
