"""Redaction: faces and (by default) whole people pixelated or blurred, then checked again.

``Redactor.redact`` is the pure per-frame step. ``redact_clip`` decodes a shared clip, finds
faces (CenterFace) and people (the project's detector) on every ``stride``-th frame, covers the
frames between with ``cover`` (neighbours' boxes and interpolation), re-encodes H.264 without
audio or metadata to ``<dst>.part``, and runs the second check: the face detector, at a lower
threshold, over the encoded output itself. Only a clip that passes is renamed to ``dst``; one
that fails is removed and reported ``refused``; any error removes the ``.part`` and raises.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hearthcam.errors import ModelError
from hearthcam.labels import class_id_of
from hearthcam.pipeline.detect import Detector
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.cover import cover
from hearthcam.vision.faces import FaceDetector
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
            for box in bodies.xyxy:
                self._hide(out, box, p.body_pad, p.body_cells)
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
    might have let through; ``check_stride`` 1 checks every output frame.
    """

    #: Every 3rd frame: what keeps a 30 s 720p clip near 30 s on two cores (docs/privacy.md).
    stride: int = 3
    window: int = 3
    person_threshold: float = 0.3
    check_threshold: float = 0.3
    #: Every frame: a check on every 3rd frame let through people the detector had missed.
    check_stride: int = 1
    #: superfast: within 10 % of ultrafast's time at 70 % of its size (720p, 2 cores).
    preset: str = "superfast"
    crf: int = 23
    encoder_threads: int = 0
    deadline_s: float | None = None

    def __post_init__(self) -> None:
        if self.stride < 1 or self.window < self.stride - 1 or self.check_stride < 1:
            raise ValueError("stride >= 1, window >= stride - 1 and check_stride >= 1 required")


class RedactStatus(enum.StrEnum):
    """The outcome of a redaction that ran to the end."""

    PUBLISHED = "published"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The second check: output frames looked at and faces the detector still found there."""

    frames_checked: int
    frames_with_faces: int
    faces: int
    max_score: float
    first_frame: int | None

    @property
    def passed(self) -> bool:
        return self.faces == 0


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
    redact_seconds: float
    check_seconds: float


def check_clip(
    path: ClipSource,
    faces: FaceDetector,
    threshold: float,
    stride: int = 1,
    clock: Clock | None = None,
) -> CheckReport:
    """Runs the face detector over a clip's frames and counts what it finds."""
    checked = with_faces = found = 0
    best, first = 0.0, None
    # On a stride, frames between the redaction pass's detections are the ones checked: those
    # are covered by interpolation only, where a face is likeliest to slip through.
    offset = 1 if stride > 1 else 0
    for frame in read_frames(path):
        if (frame.index - offset) % stride:
            continue
        if clock:
            clock.tick("the face check")
        dets = faces.detect(frame.image, threshold)
        checked += 1
        if len(dets):
            with_faces += 1
            found += len(dets)
            best = max(best, float(dets.confidence.max()))
            first = frame.index if first is None else first
    return CheckReport(checked, with_faces, found, best, first)


class _ClipRedaction:
    """The streaming part of redact_clip: detect on a stride, cover, redact, encode."""

    def __init__(
        self, faces: FaceDetector, people: Detector | None, redactor: Redactor, policy: ClipPolicy
    ) -> None:
        self.faces, self.people, self.redactor, self.policy = faces, people, redactor, policy
        self.face_boxes: dict[int, Detections] = {}
        self.body_boxes: dict[int, Detections] = {}
        self.faces_found = self.frames_with_faces = self.people_found = 0

    def detect(self, frame: DecodedFrame) -> None:
        found = self.faces.detect(frame.image)
        self.face_boxes[frame.index] = found
        self.faces_found += len(found)
        self.frames_with_faces += bool(len(found))
        if self.people is not None and self.redactor.policy.bodies:
            dets = self.people.detect(frame.image)
            keep = (dets.class_id == PERSON) & (dets.confidence >= self.policy.person_threshold)
            self.body_boxes[frame.index] = dets[keep]
            self.people_found += int(keep.sum())

    def emit(self, frame: DecodedFrame, writer: RedactedWriter) -> None:
        window = self.policy.window
        faces = cover(frame.index, self.face_boxes, window)
        bodies = cover(frame.index, self.body_boxes, window)
        writer.write(self.redactor.redact(frame.image, faces, bodies), frame.pts)
        # Older detections can no longer reach a frame still to come.
        horizon = frame.index - window - self.policy.stride
        for boxes in (self.face_boxes, self.body_boxes):
            for old in [k for k in boxes if k < horizon]:
                del boxes[old]

    def run(self, src: ClipSource, writer: RedactedWriter, clock: Clock) -> tuple[int, int]:
        """Redacts every frame of src into writer; returns (frames, frames detected on)."""
        lookahead = max(self.policy.window, self.policy.stride)
        buffer: deque[DecodedFrame] = deque()
        detected = 0
        for frame in read_frames(src):
            clock.tick("redaction")
            if frame.index % self.policy.stride == 0:
                self.detect(frame)
                detected += 1
            buffer.append(frame)
            while buffer[0].index + lookahead <= frame.index:
                self.emit(buffer.popleft(), writer)
        if buffer and buffer[-1].index not in self.face_boxes:
            self.detect(buffer[-1])  # the tail has no later detection to interpolate towards
            detected += 1
        while buffer:
            self.emit(buffer.popleft(), writer)
        return writer.frames, detected


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

    Raises SourceUnreadable (src), ModelError (a model, or no person detector while bodies are
    to be hidden), StoreError (writing), VisionTimeout; no ``.part`` file is left behind.
    """
    redactor = redactor or Redactor()
    if redactor.policy.bodies and people is None:
        raise ModelError("hiding bodies needs the person detector, and none was given")
    clock = Clock(name_of(src), policy.deadline_s)
    started = time.monotonic()
    writer = RedactedWriter(
        dst, probe(src), policy.preset, policy.crf, threads=policy.encoder_threads, sink=sink
    )
    try:
        job = _ClipRedaction(faces, people, redactor, policy)
        frames, detected = job.run(src, writer, clock)
        part = writer.finish()
        redacted = time.monotonic()
        check = check_clip(part, faces, policy.check_threshold, policy.check_stride, clock)
        checked = time.monotonic()
    except BaseException:
        writer.discard()
        raise
    if check.passed:
        path: Path | None = writer.publish()
        status = RedactStatus.PUBLISHED
    else:
        writer.discard()
        path, status = None, RedactStatus.REFUSED
    return RedactionResult(
        status, path, frames, detected, job.faces_found, job.frames_with_faces,
        job.people_found, check, redacted - started, checked - redacted,
    )  # fmt: skip
