"""The intimate-content scan: two models score sampled frames, a clip-level rule decides.

``NudeNet`` (320n, from the ``nudenet`` package) scores exposed intimate body parts and
``NsfwJs`` (MobileNetV2) scores whole frames; both are run by this module with ONNX Runtime and
per-class thresholds. ``decide`` is the pure clip-level rule and ``SensitiveScanner`` samples a
clip's frames (a few a second plus every keyframe) and applies it. The verdict names the model,
class, frame count and top scores, and never carries a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from hearthcam.errors import ModelError
from hearthcam.types import BGRImage
from hearthcam.vision.media import ClipSource, Clock, name_of, read_frames
from hearthcam.vision.models import NSFWJS, NUDENET_320N, ModelFile, input_of, open_model

#: NudeNet 320n's classes in output order (from nudenet 3.4.2's ``nudenet.py``).
NUDENET_LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
    "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
    "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)  # fmt: skip
#: Only exposed intimate parts count; covered parts, faces, feet, bellies, male chests do not.
NUDENET_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        "FEMALE_GENITALIA_EXPOSED": 0.5,
        "MALE_GENITALIA_EXPOSED": 0.5,
        "ANUS_EXPOSED": 0.5,
        "FEMALE_BREAST_EXPOSED": 0.55,
        # A clothed man scored 0.38 here (MODELS.md): the highest bar of the five.
        "BUTTOCKS_EXPOSED": 0.6,
    }
)
NSFWJS_LABELS = ("Drawing", "Hentai", "Neutral", "Porn", "Sexy")
NSFWJS_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {"Porn": 0.7, "Hentai": 0.7, "Sexy": 0.8}  # Sexy includes swimwear: the highest bar
)
NUDENET_SIZE = 320
NSFWJS_SIZE = 224


class FrameScorer(Protocol):
    """Scores one frame for the classes in ``thresholds`` (probabilities in [0, 1])."""

    name: str
    thresholds: Mapping[str, float]

    def score(self, image: BGRImage) -> Mapping[str, float]:
        """The frame's score for each class in ``thresholds``."""
        ...


class NudeNet:
    """NudeNet 320n (YOLOv8n body parts) as a FrameScorer: each class's best box score."""

    name = "nudenet"

    def __init__(
        self,
        model: ModelFile = NUDENET_320N,
        thresholds: Mapping[str, float] = NUDENET_THRESHOLDS,
        threads: int = 0,
    ) -> None:
        unknown = set(thresholds) - set(NUDENET_LABELS)
        if unknown:
            raise ValueError(f"not NudeNet classes: {sorted(unknown)}")
        self.thresholds = thresholds
        self._columns = [4 + NUDENET_LABELS.index(label) for label in thresholds]
        self._session = open_model(model, threads)
        self._input = input_of(self._session, rank=4)
        self.score(np.zeros((32, 32, 3), np.uint8))  # proves the output layout on load

    def score(self, image: BGRImage) -> Mapping[str, float]:
        """The best score of each thresholded class over all boxes in the frame."""
        # As nudenet does: pad right/bottom to a square, resize to 320, RGB / 255.
        h, w = image.shape[:2]
        side = max(h, w)
        square = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
        blob = cv2.dnn.blobFromImage(
            square, 1 / 255, (NUDENET_SIZE, NUDENET_SIZE), swapRB=True, crop=False
        )
        output = _run(self._session, self._input, blob.astype(np.float32), self.name)
        if output.ndim != 3 or output.shape[:2] != (1, 4 + len(NUDENET_LABELS)):
            raise ModelError(f"NudeNet output {output.shape} is not [1, 22, anchors]")
        # "Is the class anywhere in the frame" needs no boxes or NMS: the best anchor is enough.
        best = output[0, self._columns, :].max(axis=1)
        return dict(zip(self.thresholds, best.astype(float).tolist(), strict=True))


class NsfwJs:
    """The nsfwjs MobileNetV2 classifier as a FrameScorer: whole-frame class probabilities."""

    name = "nsfwjs"

    def __init__(
        self,
        model: ModelFile = NSFWJS,
        thresholds: Mapping[str, float] = NSFWJS_THRESHOLDS,
        threads: int = 0,
    ) -> None:
        unknown = set(thresholds) - set(NSFWJS_LABELS)
        if unknown:
            raise ValueError(f"not nsfwjs classes: {sorted(unknown)}")
        self.thresholds = thresholds
        self._columns = [NSFWJS_LABELS.index(label) for label in thresholds]
        self._session = open_model(model, threads)
        self._input = input_of(self._session, rank=4)
        self.score(np.zeros((32, 32, 3), np.uint8))

    def score(self, image: BGRImage) -> Mapping[str, float]:
        """The classifier's probability of each thresholded class."""
        # nsfwjs resizes the whole frame (no crop, no letterbox) to 224, RGB / 255, NHWC.
        small = cv2.resize(image, (NSFWJS_SIZE, NSFWJS_SIZE), interpolation=cv2.INTER_AREA)
        blob = np.ascontiguousarray(small[None, :, :, ::-1], dtype=np.float32) / np.float32(255)
        output = _run(self._session, self._input, blob, self.name)
        if output.shape != (1, len(NSFWJS_LABELS)):
            raise ModelError(f"nsfwjs output {output.shape} is not [1, 5]")
        probabilities = output[0, self._columns].astype(float).tolist()
        return dict(zip(self.thresholds, probabilities, strict=True))


def _run(
    session: ort.InferenceSession, name: str, blob: NDArray[np.float32], model: str
) -> NDArray[np.float32]:
    """The model's first output for one input blob (ModelError if the run fails)."""
    try:
        outputs = session.run(None, {name: blob})
    except Exception as error:  # ORT raises untyped pybind errors
        raise ModelError(f"{model} failed on a frame: {error}") from error
    return np.asarray(outputs[0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class ScanPolicy:
    """The clip-level rule and the frame sampling.

    A clip is positive when one model scores one of its classes at or above that class's
    threshold on ``min_frames`` sampled frames, or on a single frame at or above ``decisive``.
    Several frames because a single frame's score is noisy (motion blur, a hand, a towel); the
    single decisive frame because a person may cross the view in under a second, and publishing
    intimate footage to strangers costs far more than disposing of one shared copy (the owner
    keeps the original).

    The models in ``classifiers`` (nsfwjs: one score for the whole frame, no body part behind
    it) agree only with two more conditions (issue 13): their frames over the bar must lie at
    least ``spread_s`` seconds apart on the clip's clock (first to last), because adjacent
    samples of a slow pan show nearly the same picture (one look, not two); and on at least one
    of those frames another model (NudeNet) must score one of its classes at or above
    ``support``, an exposed-part box well under NudeNet's own bars. nsfwjs alone scored Porn
    0.72-0.90 on many frames of everyday clothed footage (grey basketball photos, cyclists) with
    NudeNet under 0.08 there; NudeNet scored up to 0.40 on everyday photos, so ``support`` is
    not a rule on its own. A single nsfwjs frame at ``decisive`` (0.95: everyday footage reached
    0.898, so 0.9 would leave no margin) still disposes alone. NudeNet keeps the plain rule and
    its thresholds.
    """

    min_frames: int = 2
    decisive: float = 0.95
    classifiers: frozenset[str] = frozenset({"nsfwjs"})
    spread_s: float = 2.0
    support: float = 0.3
    sample_fps: float = 2.0
    keyframes: bool = True

    def __post_init__(self) -> None:
        if self.min_frames < 1 or not 0 < self.decisive <= 1 or self.sample_fps <= 0:
            raise ValueError("min_frames >= 1, 0 < decisive <= 1 and sample_fps > 0 required")
        if self.spread_s < 0 or not 0 <= self.support <= 1:
            raise ValueError("spread_s >= 0 and 0 <= support <= 1 required")


#: The rule before issue 13 (every model on the plain rule): kept to measure against.
PLAIN_POLICY = ScanPolicy(classifiers=frozenset())


@dataclass(frozen=True, slots=True)
class ClassFinding:
    """One model's class over the scanned frames: its best score and frames at its threshold."""

    model: str
    label: str
    threshold: float
    max_score: float
    frames: int


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    """The clip-level result; ``findings`` has every thresholded class, strongest first."""

    positive: bool
    frames_scanned: int
    findings: tuple[ClassFinding, ...]
    #: The finding that made the clip positive (None when negative).
    decided_by: ClassFinding | None = None

    @property
    def model(self) -> str | None:
        return self.decided_by.model if self.decided_by else None

    @property
    def label(self) -> str | None:
        return self.decided_by.label if self.decided_by else None


def decide(
    frames: Sequence[Mapping[str, Mapping[str, float]]],
    thresholds: Mapping[str, Mapping[str, float]],
    policy: ScanPolicy = ScanPolicy(),
    times: Sequence[float] | None = None,
) -> ScanVerdict:
    """Applies the clip rule to per-frame scores (frame -> model -> class -> score).

    ``times`` are the frames' seconds on the clip's clock (default: ``sample_fps`` apart).
    """
    if times is None:
        times = [i / policy.sample_fps for i in range(len(frames))]
    if len(times) != len(frames):
        raise ValueError("one time per frame required")
    findings: list[ClassFinding] = []
    agreed_by: dict[str, bool] = {}
    for model, classes in thresholds.items():
        # Agreement counts frames on which any of the model's classes is over its bar.
        flagged = [
            (t, frame)
            for t, frame in zip(times, frames, strict=True)
            if any(frame.get(model, {}).get(c, 0.0) >= b for c, b in classes.items())
        ]
        agreed = len(flagged) >= policy.min_frames
        if agreed and model in policy.classifiers:
            spread = max(t for t, _ in flagged) - min(t for t, _ in flagged)
            supported = any(
                frame.get(other, {}).get(c, 0.0) >= policy.support
                for _, frame in flagged
                for other, other_classes in thresholds.items()
                if other not in policy.classifiers
                for c in other_classes
            )
            agreed = spread >= policy.spread_s and supported
        agreed_by[model] = agreed
        for label, threshold in classes.items():
            column = [frame.get(model, {}).get(label, 0.0) for frame in frames]
            findings.append(
                ClassFinding(
                    model,
                    label,
                    threshold,
                    max(column, default=0.0),
                    sum(s >= threshold for s in column),
                )
            )
    findings.sort(key=lambda f: (f.frames, f.max_score), reverse=True)
    for finding in findings:
        decisive = finding.max_score >= max(policy.decisive, finding.threshold)
        agreed = finding.frames > 0 and agreed_by[finding.model]
        if decisive or agreed:
            return ScanVerdict(True, len(frames), tuple(findings), finding)
    return ScanVerdict(False, len(frames), tuple(findings))


class SensitiveScanner:
    """Scores sampled frames of a clip with every scorer and decides with ``decide``."""

    def __init__(self, scorers: Sequence[FrameScorer], policy: ScanPolicy = ScanPolicy()) -> None:
        if not scorers:
            raise ValueError("the scan needs at least one scorer")
        if len({s.name for s in scorers}) != len(scorers):
            raise ValueError("scorers need distinct names (their scores are kept by name)")
        self.scorers = list(scorers)
        self.policy = policy

    @classmethod
    def load(cls, threads: int = 0, policy: ScanPolicy = ScanPolicy()) -> SensitiveScanner:
        """Both packaged models at their default thresholds (ModelError if either is missing)."""
        return cls([NudeNet(threads=threads), NsfwJs(threads=threads)], policy)

    def scan_images(
        self, images: Iterable[BGRImage], times: Sequence[float] | None = None
    ) -> ScanVerdict:
        """Scores each image and decides (for stills and for already sampled frames).

        ``times`` are the images' seconds on the clip's clock (default: ``sample_fps`` apart).
        """
        return self.decide(self.score_images(images), times)

    def score_images(self, images: Iterable[BGRImage]) -> list[dict[str, Mapping[str, float]]]:
        """Each image's scores, model -> class -> score (what ``decide`` takes)."""
        return [{s.name: s.score(image) for s in self.scorers} for image in images]

    def decide(
        self,
        frames: Sequence[Mapping[str, Mapping[str, float]]],
        times: Sequence[float] | None = None,
        policy: ScanPolicy | None = None,
    ) -> ScanVerdict:
        """``decide`` with these scorers' thresholds (and this scanner's policy by default)."""
        thresholds = {s.name: s.thresholds for s in self.scorers}
        return decide(frames, thresholds, policy or self.policy, times)

    def scan_clip(self, path: ClipSource, deadline_s: float | None = None) -> ScanVerdict:
        """Samples ``sample_fps`` frames a second plus every keyframe, scores them and decides.

        Raises SourceUnreadable, ModelError or VisionTimeout (past ``deadline_s``).
        """
        times: list[float] = []
        frames: list[dict[str, Mapping[str, float]]] = []
        for seconds, image in self.sample_timed(path, Clock(name_of(path), deadline_s)):
            times.append(seconds)  # scored one at a time: the frames are not kept
            frames.extend(self.score_images([image]))
        return self.decide(frames, times)

    def sample(self, path: ClipSource, clock: Clock | None = None) -> Iterable[BGRImage]:
        """The frames of a clip the scan looks at (SourceUnreadable if it cannot be decoded)."""
        for _, image in self._sample(path, clock):
            yield image

    def sample_timed(
        self, path: ClipSource, clock: Clock | None = None
    ) -> Iterator[tuple[float, BGRImage]]:
        """The sampled frames with their seconds on the clip's clock."""
        return self._sample(path, clock)

    def _sample(
        self, path: ClipSource, clock: Clock | None = None
    ) -> Iterator[tuple[float, BGRImage]]:
        period = 1 / self.policy.sample_fps
        next_time: float | None = None
        for frame in read_frames(path):
            if clock:
                clock.tick("the intimate-content scan")
            due = next_time is None or frame.seconds >= next_time
            if due or (self.policy.keyframes and frame.key):
                yield frame.seconds, frame.image
            if due:
                # On the clip's own clock from its first frame; a gap skips missed slots.
                next_time = frame.seconds if next_time is None else next_time
                while next_time <= frame.seconds:
                    next_time += period
