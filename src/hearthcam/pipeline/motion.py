"""Motion detection on a downscaled grey frame: what moved, where, and how much of the frame.

A running-average background, compared after matching the frame's mean brightness to the
background's, so slow light changes, clouds and auto-exposure drift do not count as motion; a
change over most of the frame (lights switched on, IR mode flip) resets the background instead.
Masked areas never count. Boxes come back in the caller's frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.config import MotionConfig
from hearthcam.types import BGRImage, MotionResult


def polygon_mask(
    polygons: list[list[tuple[float, float]]], width: int, height: int
) -> NDArray[np.uint8]:
    """A uint8 mask (255 inside any polygon) from polygons in relative coordinates."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for points in polygons:
        pts = np.array([(x * (width - 1), y * (height - 1)) for x, y in points], dtype=np.int32)
        cv2.fillPoly(mask, [pts], 255)
    return mask


class MotionDetector:
    """Finds moving regions in successive frames of one camera (stateful: keeps a background)."""

    def __init__(self, cfg: MotionConfig, frame_width: int, frame_height: int) -> None:
        self._cfg = cfg
        self._frame_size = (frame_width, frame_height)
        self._width = min(cfg.scale_width, frame_width)
        self._height = max(8, round(frame_height * self._width / frame_width))
        self._scale = frame_width / self._width
        self.set_mask(cfg)
        self._min_blob = cfg.contour_area * self._width * self._height
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._background: NDArray[np.float32] | None = None

    def set_mask(self, cfg: MotionConfig) -> None:
        """Ignores ``cfg.mask`` from now on (the background learnt so far is kept)."""
        ignored = polygon_mask([m.points for m in cfg.mask], self._width, self._height)
        self._keep = (ignored == 0).astype(np.uint8) * 255
        self._area = max(1, int(np.count_nonzero(self._keep)))

    def _prepare(self, image: BGRImage) -> NDArray[np.uint8]:
        if (image.shape[1], image.shape[0]) != self._frame_size:
            raise ValueError(
                f"frame is {image.shape[1]}x{image.shape[0]}, detector was built for "
                f"{self._frame_size[0]}x{self._frame_size[1]}"
            )
        small = cv2.resize(image, (self._width, self._height), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(cv2.GaussianBlur(gray, (5, 5), 0), dtype=np.uint8)

    def _changed(
        self, image: NDArray[np.uint8] | NDArray[np.float32], background: NDArray[np.float32]
    ) -> NDArray[np.uint8]:
        """A 0/255 mask of unmasked pixels that differ from the background by over the threshold."""
        # Differences can pass 255 (the background is a float average); clip so they do not wrap.
        diff = np.clip(cv2.absdiff(image.astype(np.float32), background), 0, 255)
        _, changed = cv2.threshold(
            diff.astype(np.uint8), self._cfg.threshold, 255, cv2.THRESH_BINARY
        )
        return np.asarray(cv2.bitwise_and(changed, self._keep), dtype=np.uint8)

    def detect(self, image: BGRImage) -> MotionResult:
        """Compares a frame with the background; returns moving boxes in frame pixels."""
        gray = self._prepare(image)
        if self._background is None:
            self._background = gray.astype(np.float32)
            return MotionResult.still()
        background = self._background
        # Matching mean brightness first makes global exposure drift cancel out.
        shift = float(cv2.mean(background, self._keep)[0] - cv2.mean(gray, self._keep)[0])
        adjusted = gray.astype(np.float32) + np.float32(shift)
        changed = self._changed(adjusted, background)
        ratio = np.count_nonzero(changed) / self._area
        # A light switched on scales every pixel: mean matching hides that; the raw change does not.
        raw_ratio = np.count_nonzero(self._changed(gray, background)) / self._area
        if max(ratio, raw_ratio) >= self._cfg.lightning_threshold:
            # Everything changed at once: a light switched, not a thing moving. Start over.
            self._background = gray.astype(np.float32)
            return MotionResult(np.zeros((0, 4), dtype=np.int32), float(max(ratio, raw_ratio)))
        dilated = cv2.dilate(changed, self._kernel, iterations=2)
        # Moving things are learnt into the background ten times slower than the rest, so a
        # passing object leaves no ghost trail behind it, yet a parked one fades in eventually.
        alpha = self._cfg.frame_alpha
        cv2.accumulateWeighted(adjusted, background, alpha, mask=cv2.bitwise_not(dilated))
        cv2.accumulateWeighted(adjusted, background, alpha / 10, mask=dilated)
        # Carry the background to this frame's brightness: the raw comparison above then sees only
        # sudden global changes, never the drift a slow ramp accumulates.
        background -= np.float32(shift)
        contours, _ = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= self._min_blob]
        if not boxes:
            return MotionResult(np.zeros((0, 4), dtype=np.int32), float(ratio))
        xywh = np.array(boxes, dtype=np.float32)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1) * self._scale
        limit = np.array([*self._frame_size, *self._frame_size], dtype=np.float32)
        clipped = np.clip(np.round(xyxy), 0, limit).astype(np.int32)
        return MotionResult(clipped, float(ratio))
