"""The second check: the face detector over every frame of a redacted clip, as encoded.

It runs below the redaction's threshold and at a resolution that resolves ``SMALLEST_FACE``:
the face detector's input is scaled no smaller than that face's size allows (for CenterFace a
24 px face must be 20 px at its input, so a 1280x720 frame is checked at 0.83 of its size
instead of the 0.5 the redaction's whole-frame pass uses). Frames up to ``TILE`` px are checked
whole: a fully convolutional model on the whole frame is the limit of tiles with full overlap.
Larger frames are checked in tiles of ``TILE`` px at that scale, overlapping by ``OVERLAP`` px so
that a face up to that size is whole in one tile; larger faces are whole in the downscaled whole
frame, which is checked too. What it finds is kept per frame, so the redactor can hide it and
check again. ``check_frames`` checks a finished clip; ``PipelinedCheck`` checks the output of
``RedactedWriter`` while it is encoded, from its packets (the same frames, bit for bit).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from hearthcam.errors import StoreError
from hearthcam.pipeline.detect import nms
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.faces import FaceDetector
from hearthcam.vision.media import ClipSource, Clock, EncodedPacket, OutputDecoder, read_frames

#: The smallest face (frame pixels, width) the check is built to find, and the redaction with it.
SMALLEST_FACE = 24
TILE = 1920
OVERLAP = 256


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The second check: output frames looked at and faces the detector still found there.

    ``best_*`` say where the highest-scoring finding was (frame index, score, box xyxy in frame
    pixels), so an owner told "faces remain" can be told what was found.
    """

    frames_checked: int
    frames_with_faces: int
    faces: int
    max_score: float
    first_frame: int | None
    best_frame: int | None = None
    best_box: tuple[float, float, float, float] | None = None

    @property
    def passed(self) -> bool:
        return self.faces == 0

    def describe(self) -> str:
        """The best finding in words (empty when nothing was found)."""
        if self.best_frame is None or self.best_box is None:
            return ""
        x0, y0, x1, y1 = (round(v) for v in self.best_box)
        return (
            f"best score {self.max_score:.2f} on frame {self.best_frame}, "
            f"box x {x0}-{x1}, y {y0}-{y1} ({x1 - x0}x{y1 - y0} px)"
        )


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    count = int(np.ceil((length - overlap) / (tile - overlap)))
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def find_faces(
    faces: FaceDetector, image: BGRImage, threshold: float, min_face: float = SMALLEST_FACE
) -> Detections:
    """Faces in ``image`` down to ``min_face`` px: whole, or in overlapping tiles if large."""
    height, width = image.shape[:2]
    if max(width, height) <= TILE:
        return faces.detect(image, threshold, min_face)
    parts = [faces.detect(image, threshold)]  # the large faces, whole at the default scale
    for y in _starts(height, TILE, OVERLAP):
        for x in _starts(width, TILE, OVERLAP):
            found = faces.detect(image[y : y + TILE, x : x + TILE], threshold, min_face)
            shift = np.array([x, y, x, y], np.float32)
            parts.append(Detections(found.xyxy + shift, found.confidence, found.class_id))
    merged = Detections.merge([Detections(p.xyxy, p.confidence, p.class_id) for p in parts])
    return nms(merged, 0.3)


class Findings:
    """What a check found so far, frame by frame; ``report`` sums it up."""

    def __init__(self) -> None:
        self.checked = self.with_faces = self.found = 0
        self.best = 0.0
        self.first: int | None = None
        self.best_frame: int | None = None
        self.best_box: tuple[float, float, float, float] | None = None
        self.residual: dict[int, Detections] = {}

    def add(self, index: int, dets: Detections) -> None:
        """One checked frame and the faces found on it."""
        self.checked += 1
        if not len(dets):
            return
        self.residual[index] = dets
        self.with_faces += 1
        self.found += len(dets)
        top = int(np.argmax(dets.confidence))
        if self.best_frame is None or float(dets.confidence[top]) > self.best:
            self.best, self.best_frame = float(dets.confidence[top]), index
            x0, y0, x1, y1 = (float(v) for v in dets.xyxy[top])
            self.best_box = (x0, y0, x1, y1)
        self.first = index if self.first is None else min(self.first, index)

    def report(self) -> CheckReport:
        return CheckReport(
            self.checked, self.with_faces, self.found, self.best, self.first, self.best_frame,
            self.best_box,
        )  # fmt: skip


def checked_here(index: int, stride: int) -> bool:
    """Whether frame ``index`` is checked on ``stride``: every frame at 1; otherwise the frames
    between the redaction pass's detections (covered by interpolation only, where a face is
    likeliest to slip through)."""
    offset = 1 if stride > 1 else 0
    return (index - offset) % stride == 0


def check_frames(
    path: ClipSource,
    faces: FaceDetector,
    threshold: float,
    stride: int = 1,
    clock: Clock | None = None,
    min_face: float = SMALLEST_FACE,
) -> tuple[CheckReport, dict[int, Detections]]:
    """Runs the face check over a clip; the report and what it found, by frame index."""
    findings = Findings()
    for frame in read_frames(path):
        if not checked_here(frame.index, stride):
            continue
        if clock:
            clock.tick("the face check")
        findings.add(frame.index, find_faces(faces, frame.image, threshold, min_face))
    return findings.report(), findings.residual


def check_clip(
    path: ClipSource,
    faces: FaceDetector,
    threshold: float,
    stride: int = 1,
    clock: Clock | None = None,
    min_face: float = SMALLEST_FACE,
) -> CheckReport:
    """Runs the face detector over a clip's frames and counts what it finds."""
    return check_frames(path, faces, threshold, stride, clock, min_face)[0]


_END = None


class PipelinedCheck:
    """The check of a redacted output while it is encoded: the writer's packets (``feed``) are
    decoded and checked in a worker thread, so frame n is checked while frame n+1 is redacted
    and encoded (ONNX Runtime and FFmpeg release the GIL). What is checked is the encoded
    output, every frame of it (on ``stride`` 1), exactly as a reader of the file decodes it.

    ``finish`` waits for the last frame and returns what ``check_frames`` would; an error in
    the worker (a timeout, a frame that does not decode) is raised by ``feed`` or ``finish``.
    ``depth`` bounds the packets waiting, so the redaction runs at most that far ahead.
    """

    def __init__(
        self,
        faces: FaceDetector,
        threshold: float,
        time_base: Fraction,
        stride: int = 1,
        clock: Clock | None = None,
        min_face: float = SMALLEST_FACE,
        depth: int = 8,
    ) -> None:
        self._faces, self._threshold, self._time_base = faces, threshold, time_base
        self._stride, self._clock, self._min_face = stride, clock, min_face
        self._queue: queue.Queue[EncodedPacket | None] = queue.Queue(maxsize=depth)
        self._findings = Findings()
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self.frames = 0
        self._worker = threading.Thread(target=self._run, name="face-check", daemon=True)
        self._worker.start()

    def feed(self, packet: EncodedPacket | None) -> None:
        """One packet of the output (None: there are no more)."""
        while True:
            self._raise()
            try:
                self._queue.put(packet, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self, frames_written: int) -> tuple[CheckReport, dict[int, Detections]]:
        """Waits for the check of every frame; StoreError unless all ``frames_written`` were."""
        self.feed(_END)
        self._worker.join()
        self._raise()
        if self.frames != frames_written:
            raise StoreError(
                f"the redacted output decoded to {self.frames} of the {frames_written} frames "
                "written"
            )
        return self._findings.report(), self._findings.residual

    def abort(self) -> None:
        """Stops the worker without waiting for the frames left (after an error elsewhere)."""
        self._stopped.set()
        self._worker.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        decoder: OutputDecoder | None = None
        try:
            while not self._stopped.is_set():
                try:
                    packet = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                if decoder is None:
                    extradata = None if packet is None else packet.extradata
                    decoder = OutputDecoder(extradata, self._time_base)
                for frame in decoder.decode(packet):
                    self.frames += 1
                    if not checked_here(frame.index, self._stride):
                        continue
                    if self._clock:
                        self._clock.tick("the face check")
                    found = find_faces(self._faces, frame.image, self._threshold, self._min_face)
                    self._findings.add(frame.index, found)
                if packet is _END:
                    return
        except BaseException as error:  # handed to the thread that feeds or finishes
            self._error = error
