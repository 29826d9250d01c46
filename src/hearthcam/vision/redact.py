"""Redaction: faces and (by default) whole people pixelated or blurred, then checked again.

``Redactor.redact`` is the pure per-frame step. ``redact_clip`` decodes a shared clip, finds
faces (CenterFace: the whole frame, plus the upper part of each person box at the scale that
resolves ``check.SMALLEST_FACE``) and people (the project's detector) on every ``stride``-th
frame, covers the frames between with ``cover`` (neighbours' boxes, interpolation, person and
face tracks held and extrapolated across the detector's misses), hides a body-sized box under
every face (whether or not the person detector found that person), re-encodes H.264 without
audio or metadata to ``<dst>.part``, and runs the second check (``check``) over every frame of
the encoded output: pipelined, the encoder's packets are decoded and checked in a worker thread
while the next frames are redacted and encoded (``PipelinedCheck``), with CenterFace's int8 model
at the threshold issue 13's rule was measured at (``faces.INT8_CHECK_THRESHOLD``); the source is
decoded once per round. What the check finds is hidden too and the clip is made and checked again,
for up to ``rounds`` rounds; only a clip whose last check found nothing is renamed to ``dst``.
One that still has faces is removed and reported ``refused`` with what was found; any error
(a damaged source included) removes the ``.part`` and raises.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hearthcam.errors import ModelError
from hearthcam.labels import class_id_of, label_of
from hearthcam.pipeline.detect import Detector, nms
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.check import SMALLEST_FACE, CheckReport, PipelinedCheck
from hearthcam.vision.cover import bodies_under, cover
from hearthcam.vision.faces import CenterFace, FaceDetector
from hearthcam.vision.media import (
    ClipSource,
    Clock,
    DecodedFrame,
    RedactedWriter,
    Sink,
    name_of,
    probe,
    read_frames,
)

PERSON = class_id_of("person")


class RedactStyle(enum.StrEnum):
    """How a box is hidden: coarse mosaic, strong blur, or a solid fill."""

    PIXELATE = "pixelate"
    BLUR = "blur"
    FILL = "fill"


@dataclass(frozen=True, slots=True)
class RedactPolicy:
    """What is hidden and how; pads are fractions of the box's size added on each side."""

    style: RedactStyle = RedactStyle.PIXELATE
    bodies: bool = True
    face_pad: float = 0.3
    body_pad: float = 0.1
    #: A person box at the frame edge is likely cut by it (a person walking in, half outside):
    #: the detector's box is unreliable there, so it is padded this much more on each side.
    edge_pad: float = 0.5
    #: Mosaic cells along a face's longer side: 6 leaves no recognisable features.
    face_cells: int = 6
    body_cells: int = 10
    min_block: int = 6


class Redactor:
    """Hides faces (always) and person bodies (unless ``bodies`` is off) in a frame."""

    def __init__(self, policy: RedactPolicy = RedactPolicy()) -> None:
        self.policy = policy

    def redact(self, frame: BGRImage, faces: Detections, bodies: Detections) -> BGRImage:
        """A redacted copy of ``frame`` (boxes in its pixels); the input is left untouched."""
        out = frame.copy()
        p = self.policy
        if p.bodies:
            height, width = frame.shape[:2]
            for box in bodies.xyxy:
                at_edge = box[0] <= 2 or box[1] <= 2 or box[2] >= width - 2 or box[3] >= height - 2
                pad = p.body_pad + (p.edge_pad if at_edge else 0.0)
                self._hide(out, box, pad, p.body_cells)
        for box in faces.xyxy:
            self._hide(out, box, p.face_pad, p.face_cells)
        return out

    def _hide(self, image: BGRImage, box: np.ndarray, pad: float, cells: int) -> None:
        height, width = image.shape[:2]
        w, h = box[2] - box[0], box[3] - box[1]
        x0, y0 = max(0, math.floor(box[0] - pad * w)), max(0, math.floor(box[1] - pad * h))
        x1 = min(width, math.ceil(box[2] + pad * w))
        y1 = min(height, math.ceil(box[3] + pad * h))
        if x1 <= x0 or y1 <= y0:
            return
        roi = image[y0:y1, x0:x1]
        rw, rh = x1 - x0, y1 - y0
        block = max(self.policy.min_block, math.ceil(max(rw, rh) / cells))
        small = cv2.resize(
            roi, (max(1, rw // block), max(1, rh // block)), interpolation=cv2.INTER_AREA
        )
        if self.policy.style is RedactStyle.FILL:
            roi[:] = small.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        elif self.policy.style is RedactStyle.PIXELATE:
            roi[:] = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
        else:
            # Blurring the mosaic (not the original) keeps the blur strong at any box size.
            smooth = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_LINEAR)
            kernel = 2 * (block // 2) + 1
            roi[:] = cv2.GaussianBlur(smooth, (kernel, kernel), 0)


@dataclass(frozen=True, slots=True)
class ClipPolicy:
    """How a clip is redacted and checked, and how long it may take.

    ``stride``: faces and people are detected on every stride-th frame (and the last); ``window``:
    boxes from detected frames this many frames either side also cover a frame (>= stride).
    ``check_threshold`` is below the face detector's own so the check sees what redaction
    might have let through; ``check_stride`` 1 checks every output frame. ``min_face``: the
    smallest face (px wide) the check resolves and the person crops are searched at.
    ``reach``: person and face tracks are interpolated across, and extrapolated for, this many
    frames where the detectors found nothing. ``rounds``: redact, check, hide what the check
    found; at most this many times before a clip with faces left is refused.
    """

    #: Every 3rd frame: what keeps a 30 s 720p clip near 30 s on two cores (docs/privacy.md).
    stride: int = 3
    window: int = 3
    person_threshold: float = 0.3
    check_threshold: float = 0.3
    #: Every frame: a check on every 3rd frame let through people the detector had missed.
    check_stride: int = 1
    min_face: int = SMALLEST_FACE
    reach: int = 15
    rounds: int = 2
    #: superfast: within 10 % of ultrafast's time at 70 % of its size (720p, 2 cores).
    preset: str = "superfast"
    crf: int = 23
    encoder_threads: int = 0
    deadline_s: float | None = None
    #: Keyframes the workbench pre-labels: the detected frames nearest to this many frames
    #: spread over the clip (``spread_frames``), their boxes kept from the original frames.
    label_keyframes: int = 4

    def __post_init__(self) -> None:
        if self.stride < 1 or self.window < self.stride - 1 or self.check_stride < 1:
            raise ValueError("stride >= 1, window >= stride - 1 and check_stride >= 1 required")
        if self.rounds < 1 or self.min_face < 1 or self.reach < 0:
            raise ValueError("rounds >= 1, min_face >= 1 and reach >= 0 required")


class RedactStatus(enum.StrEnum):
    """The outcome of a redaction that ran to the end."""

    PUBLISHED = "published"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """What ``redact_clip`` did; ``path`` is the published clip (None when refused)."""

    status: RedactStatus
    path: Path | None
    frames: int
    detected_frames: int
    faces_found: int
    frames_with_faces: int
    people_found: int
    check: CheckReport
    #: Until the output was encoded (the check runs alongside), then the check's tail after it.
    redact_seconds: float
    check_seconds: float
    #: Redact-and-check rounds run; faces the checks found and the next round hid.
    rounds: int = 1
    hidden_after_check: int = 0
    #: The detector's boxes on the original frames, for the workbench (None: no detector).
    prelabels: PreLabels | None = None


@dataclass(frozen=True, slots=True)
class FrameBox:
    """One detector box on one frame of the original, relative (0..1) to the redacted copy."""

    frame: int
    xyxy: tuple[float, float, float, float]
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class PreLabels:
    """The workbench's pre-labels, found on the *original* frames by the redaction's detector
    pass (blurred frames hide the people and confuse the classes): the keyframes and their
    boxes, mapped onto the redacted copy's frame (``width`` x ``height``). Never pixels."""

    frames: tuple[int, ...]
    width: int
    height: int
    boxes: tuple[FrameBox, ...]

    def to_json(self) -> dict[str, Any]:
        """Stored with the published share."""
        return {
            "frames": list(self.frames), "width": self.width, "height": self.height,
            "boxes": [{"frame": b.frame, "xyxy": list(b.xyxy), "label": b.label,
                       "score": b.score} for b in self.boxes],
        }  # fmt: skip

    @staticmethod
    def from_json(data: dict[str, Any]) -> PreLabels:
        """The inverse of ``to_json``."""
        boxes = tuple(
            FrameBox(int(b["frame"]), (float(b["xyxy"][0]), float(b["xyxy"][1]),
                     float(b["xyxy"][2]), float(b["xyxy"][3])), str(b["label"]),
                     float(b["score"]))
            for b in data.get("boxes", [])
        )  # fmt: skip
        frames = tuple(int(f) for f in data.get("frames", []))
        return PreLabels(frames, int(data.get("width", 0)), int(data.get("height", 0)), boxes)


def spread_frames(frames: int, count: int) -> list[int]:
    """``count`` frames spread evenly inside a clip of ``frames`` (never the very ends): the
    workbench's keyframes (``annotate.workbench.keyframe_indexes`` is the same rule)."""
    if frames <= 0 or count <= 0:
        return []
    picks = {min(frames - 1, round(frames * (i + 1) / (count + 1))) for i in range(count)}
    return sorted(picks)


class _ClipRedaction:
    """The streaming part of redact_clip: detect on a stride, cover, redact, encode.

    Detections are kept for the whole clip (boxes only), so a later round re-uses them and adds
    only what the check found (``extra``).
    """

    def __init__(
        self, faces: FaceDetector, people: Detector | None, redactor: Redactor, policy: ClipPolicy
    ) -> None:
        self.faces, self.people, self.redactor, self.policy = faces, people, redactor, policy
        self.face_boxes: dict[int, Detections] = {}
        self.body_boxes: dict[int, Detections] = {}
        self.extra: dict[int, Detections] = {}
        #: Every class the detector found on each detected original frame (boxes only).
        self.objects: dict[int, Detections] = {}
        self.faces_found = self.frames_with_faces = self.people_found = 0

    def _faces_near_people(self, image: BGRImage, people: Detections) -> Detections:
        """Faces in the upper part of each person box, searched at ``min_face`` scale."""
        height, width = image.shape[:2]
        parts = []
        for x0, y0, x1, y1 in people.xyxy:
            w, h = x1 - x0, y1 - y0
            # The head is in the upper part; a margin keeps a face at the box's edge whole.
            cx0, cy0 = max(0, int(x0 - 0.25 * w)), max(0, int(y0 - 0.15 * h))
            cx1, cy1 = min(width, int(x1 + 0.25 * w) + 1), min(height, int(y0 + 0.5 * h) + 1)
            if cx1 - cx0 < 8 or cy1 - cy0 < 8:
                continue
            found = self.faces.detect(image[cy0:cy1, cx0:cx1], None, self.policy.min_face)
            shift = np.array([cx0, cy0, cx0, cy0], np.float32)
            parts.append(Detections(found.xyxy + shift, found.confidence, found.class_id))
        return Detections.merge(parts)

    def detect(self, frame: DecodedFrame) -> None:
        bodies = Detections.empty()
        if self.people is not None:
            dets = self.people.detect(frame.image)
            self.objects[frame.index] = dets
            keep = (dets.class_id == PERSON) & (dets.confidence >= self.policy.person_threshold)
            bodies = dets[keep]
            self.people_found += int(keep.sum())
        whole = self.faces.detect(frame.image)
        near = self._faces_near_people(frame.image, bodies)
        plain = [Detections(d.xyxy, d.confidence, d.class_id) for d in (whole, near)]
        found = nms(Detections.merge(plain), 0.3)
        self.face_boxes[frame.index] = found
        self.faces_found += len(found)
        self.frames_with_faces += bool(len(found))
        if self.redactor.policy.bodies:
            self.body_boxes[frame.index] = bodies

    def prelabels(self, frames: int, width: int, height: int) -> PreLabels | None:
        """The detections of the original frames nearest the workbench's keyframes, relative
        to the output's ``width`` x ``height`` (the redacted copy: padded to even sizes)."""
        if self.people is None or not self.objects:
            return None
        detected = sorted(self.objects)
        picks = sorted({
            min(detected, key=lambda d: (abs(d - k), d))
            for k in spread_frames(frames, self.policy.label_keyframes)
        })  # fmt: skip
        scale = np.array([width, height, width, height], np.float32)
        boxes = []
        for index in picks:
            found = self.objects[index]
            for xyxy, score, cls in zip(found.xyxy, found.confidence, found.class_id, strict=True):
                rel = np.clip(np.asarray(xyxy, np.float32) / scale, 0, 1)
                box = (float(rel[0]), float(rel[1]), float(rel[2]), float(rel[3]))
                boxes.append(FrameBox(index, box, label_of(int(cls)), round(float(score), 4)))
        return PreLabels(tuple(picks), width, height, tuple(boxes))

    def boxes(self, index: int, size: tuple[int, int]) -> tuple[Detections, Detections]:
        """The faces and bodies to hide on frame ``index`` (of ``size`` w, h)."""
        p = self.policy
        faces = Detections.merge(
            [cover(index, self.face_boxes, p.window, p.reach), cover(index, self.extra, p.window)]
        )
        if not self.redactor.policy.bodies:
            return faces, Detections.empty()
        bodies = Detections.merge(
            [cover(index, self.body_boxes, p.window, p.reach), bodies_under(faces, PERSON, size)]
        )
        return faces, bodies

    def emit(self, frame: DecodedFrame, writer: RedactedWriter) -> None:
        height, width = frame.image.shape[:2]
        faces, bodies = self.boxes(frame.index, (width, height))
        writer.write(self.redactor.redact(frame.image, faces, bodies), frame.pts)

    def run(self, src: ClipSource, writer: RedactedWriter, clock: Clock) -> int:
        """Redacts every frame of src into writer (detecting where not done yet); frames."""
        lookahead = max(self.policy.window, self.policy.stride, self.policy.reach)
        buffer: deque[DecodedFrame] = deque()
        for frame in read_frames(src):
            clock.tick("redaction")
            if frame.index % self.policy.stride == 0 and frame.index not in self.face_boxes:
                self.detect(frame)
            buffer.append(frame)
            while buffer[0].index + lookahead <= frame.index:
                self.emit(buffer.popleft(), writer)
        if buffer and buffer[-1].index not in self.face_boxes:
            self.detect(buffer[-1])  # the tail has no later detection to interpolate towards
        while buffer:
            self.emit(buffer.popleft(), writer)
        return writer.frames


def checker_of(faces: FaceDetector, threshold: float) -> tuple[FaceDetector, float]:
    """The second check's detector and threshold: CenterFace's int8 model at no more than the
    threshold its rule was measured at; any other detector as it is."""
    if isinstance(faces, CenterFace):
        model, highest = faces.checker()
        return model, min(threshold, highest)
    return faces, threshold


def redact_clip(
    src: ClipSource,
    dst: Path,
    faces: FaceDetector,
    people: Detector | None,
    redactor: Redactor | None = None,
    policy: ClipPolicy = ClipPolicy(),
    sink: Sink | None = None,
) -> RedactionResult:
    """Redacts src into dst and checks the output; dst exists afterwards only if published.

    With a ``sink`` the output is made and checked in memory and the sink stores it (sealed).
    A check that finds faces starts another round that hides them too (``policy.rounds``).

    Raises SourceUnreadable (src), ModelError (a model, or no person detector while bodies are
    to be hidden), StoreError (writing), VisionTimeout; no ``.part`` file is left behind.
    """
    redactor = redactor or Redactor()
    if redactor.policy.bodies and people is None:
        raise ModelError("hiding bodies needs the person detector, and none was given")
    clock = Clock(name_of(src), policy.deadline_s)
    info = probe(src)
    job = _ClipRedaction(faces, people, redactor, policy)
    checker, threshold = checker_of(faces, policy.check_threshold)
    redact_s = check_s = 0.0
    hidden = 0
    for round_ in range(1, policy.rounds + 1):
        started = time.monotonic()
        writer = RedactedWriter(
            dst, info, policy.preset, policy.crf, threads=policy.encoder_threads, sink=sink
        )
        pipeline = PipelinedCheck(
            checker, threshold, info.time_base, policy.check_stride, clock, policy.min_face
        )
        writer.tap = pipeline.feed
        try:
            frames = job.run(src, writer, clock)
            writer.finish()
            redacted = time.monotonic()
            check, residual = pipeline.finish(writer.frames)
            checked = time.monotonic()
        except BaseException:
            pipeline.abort()
            writer.discard()
            raise
        redact_s += redacted - started
        check_s += checked - redacted
        if check.passed or round_ == policy.rounds:
            break
        writer.discard()
        for index, found in residual.items():
            hidden += len(found)
            job.extra[index] = Detections.merge([job.extra.get(index, Detections.empty()), found])
    if check.passed:
        path: Path | None = writer.publish()
        status = RedactStatus.PUBLISHED
    else:
        writer.discard()
        path, status = None, RedactStatus.REFUSED
    prelabels = job.prelabels(frames, writer.width, writer.height)
    return RedactionResult(
        status, path, frames, len(job.face_boxes), job.faces_found, job.frames_with_faces,
        job.people_found, check, redact_s, check_s, round_, hidden, prelabels,
    )  # fmt: skip
