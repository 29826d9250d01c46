"""A trained verdict model on the live path: an ONNX file run by ONNX Runtime, no pickle.

``hearthcam.learn.train`` writes the file (a scikit-learn model converted by skl2onnx) with its
contract in the ONNX metadata: the class names in output order, the threat threshold chosen at
training, and the features version. ``VerdictNet`` reads it back; a file of another features
version, a broken file or a missing class is refused with ``ModelFileError`` (the caller falls
back to the rules). ``LearnedVerdict`` is the ``VerdictModel`` the event builder calls, and
``VerdictSlot`` lets the composition root swap the model while cameras run.

An annotator's five verdicts map onto the live verdicts: threat, pet and vehicle are themselves;
a benign person and a false alarm are ``motion`` (not alert-worthy; the event's labels still
say ``person`` when a person was seen).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from hearthcam.errors import HearthcamError
from hearthcam.pipeline.events import VerdictModel
from hearthcam.pipeline.features import FEATURE_NAMES, FEATURES_VERSION, event_features
from hearthcam.types import Event, TrackSummary, Verdict

META_CLASSES: Final = "hearthcam.classes"
META_THRESHOLD: Final = "hearthcam.threat_threshold"
META_FEATURES: Final = "hearthcam.features_version"
THREAT: Final = "threat"

LIVE_VERDICT: Final[dict[str, Verdict]] = {
    "threat": Verdict.THREAT,
    "benign_person": Verdict.MOTION,
    "pet": Verdict.PET,
    "vehicle": Verdict.VEHICLE,
    "false_alarm": Verdict.MOTION,
}


class ModelFileError(HearthcamError):
    """A verdict model file cannot be used (broken, of other features, or without its contract)."""


@dataclass(frozen=True)
class VerdictNet:
    """A loaded verdict model: probabilities per class for feature rows."""

    session: ort.InferenceSession
    classes: tuple[str, ...]
    threshold: float
    _output: str

    @classmethod
    def from_bytes(cls, data: bytes) -> VerdictNet:
        """Loads a model file written by ``hearthcam.learn.train`` (ModelFileError if unusable)."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a few trees per event: threads would cost more
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            meta = session.get_modelmeta().custom_metadata_map
            classes = tuple(str(c) for c in json.loads(meta[META_CLASSES]))
            threshold = float(meta[META_THRESHOLD])
            version = int(meta[META_FEATURES])
        except Exception as error:  # ORT raises its own types for a broken file
            raise ModelFileError(f"not a hearthcam verdict model: {error}") from error
        if version != FEATURES_VERSION:
            raise ModelFileError(
                f"the model was trained on features v{version}, this is v{FEATURES_VERSION}"
            )
        if unknown := set(classes) - set(LIVE_VERDICT):
            raise ModelFileError(f"the model has classes the live path does not know: {unknown}")
        outputs = [o.name for o in session.get_outputs()]
        width = session.get_inputs()[0].shape[1]
        if width != len(FEATURE_NAMES) or len(outputs) < 2:
            raise ModelFileError(f"the model takes {width} features, not {len(FEATURE_NAMES)}")
        return cls(session, classes, threshold, outputs[1])

    def proba(self, x: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """(n, len(classes)) probabilities, columns in ``classes`` order."""
        rows = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, len(FEATURE_NAMES))
        (p,) = self.session.run([self._output], {self.session.get_inputs()[0].name: rows})
        return np.asarray(p, dtype=np.float64)

    def predict(self, x: NDArray[np.floating[Any]]) -> list[str]:
        """The verdict per row: threat when its probability reaches the threshold, else the
        likeliest of the other classes."""
        p = self.proba(x)
        out = []
        for row in p:
            if THREAT in self.classes and row[self.classes.index(THREAT)] >= self.threshold:
                out.append(THREAT)
                continue
            others = [(v, c) for v, c in zip(row, self.classes, strict=True) if c != THREAT]
            out.append(max(others)[1] if others else THREAT)
        return out


@dataclass(frozen=True)
class LearnedVerdict:
    """The live verdict from a trained model (labels as the rules report them)."""

    net: VerdictNet
    model_id: str
    fallback: VerdictModel

    def decide(
        self, tracks: Sequence[TrackSummary], event: Event | None = None
    ) -> tuple[Verdict, float]:
        """The model's verdict when the event is known, else the rules'."""
        if event is None:
            return self.fallback.decide(tracks)
        row = event_features(replace(event, tracks=tuple(tracks)))[None, :]
        label = self.net.predict(row)[0]
        p = self.net.proba(row)[0]
        return LIVE_VERDICT[label], float(p[self.net.classes.index(label)])

    def labels(self, tracks: Sequence[TrackSummary]) -> tuple[str, ...]:
        return self.fallback.labels(tracks)

    def probabilities(self, event: Event) -> dict[str, float]:
        """The model's probability of each verdict for a (stored) event."""
        p = self.net.proba(event_features(event)[None, :])[0]
        return {c: float(v) for c, v in zip(self.net.classes, p, strict=True)}


class VerdictSlot:
    """The verdict every camera's event builder calls, re-pointable while they run."""

    def __init__(self, current: VerdictModel, model_id: str | None = None) -> None:
        self._lock = threading.Lock()
        self._current, self._model_id = current, model_id

    @property
    def model_id(self) -> str | None:
        """The served model's id (None: the rules)."""
        return self._model_id

    def use(self, verdict: VerdictModel, model_id: str | None) -> None:
        """Judges every later event with ``verdict``."""
        with self._lock:
            self._current, self._model_id = verdict, model_id

    def decide(
        self, tracks: Sequence[TrackSummary], event: Event | None = None
    ) -> tuple[Verdict, float]:
        with self._lock:
            current = self._current
        return current.decide(tracks, event)

    def labels(self, tracks: Sequence[TrackSummary]) -> tuple[str, ...]:
        with self._lock:
            current = self._current
        return current.labels(tracks)

    def probabilities(self, event: Event) -> dict[str, float] | None:
        """The served model's probabilities for an event (None while the rules serve): what
        the review queue ranks clips by."""
        with self._lock:
            current = self._current
        return current.probabilities(event) if isinstance(current, LearnedVerdict) else None
