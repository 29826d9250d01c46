"""Which stretch of a scene a clip shows, found from its pictures (not from any window the
pipeline computed): each clip frame is matched to the nearest frame of the scene by a small grey
thumbnail. Frames of pedestrians (vtest.avi) are unique in a scene that shows each of its frames
once; the empty walkway is not, so the clip's place is the median offset of its frames that
match pedestrians, and it spans as many frames from there as it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.scenes import FPS, Part, Span
from hearthcam.types import BGRImage
from hearthcam_bench import quality_clips
from hearthcam_bench.quality_clips import Thumbs, thumb


def video_thumbs(source: str | Path | BinaryIO) -> Thumbs:
    """The thumbnails of every frame of a video (a path or an open binary file)."""
    thumbs, _times = quality_clips.video_thumbs(str(source) if isinstance(source, Path) else source)
    return thumbs


@dataclass(frozen=True)
class SceneIndex:
    """A scene's thumbnails and which of its frames show pedestrians."""

    thumbs: Thumbs
    people: NDArray[np.bool_]

    @classmethod
    def of(cls, path: Path, spans: Sequence[Span]) -> SceneIndex:
        thumbs = video_thumbs(path)
        times = np.arange(len(thumbs)) / FPS
        people = np.zeros(len(thumbs), dtype=bool)
        for span in spans:
            if span.part is Part.PEOPLE:
                people |= (times >= span.start) & (times < span.end)
        return cls(thumbs, people)

    def nearest(self, image: BGRImage) -> float:
        """The scene time (s) of the frame most like ``image``."""
        return float(self._nearest(thumb(image)[None, :])[0]) / FPS

    def _nearest(self, thumbs: Thumbs) -> NDArray[np.int64]:
        d = (thumbs**2).sum(1)[:, None] - 2 * thumbs @ self.thumbs.T + (self.thumbs**2).sum(1)
        return np.asarray(d.argmin(axis=1), dtype=np.int64)

    def span_of(self, clip: Thumbs) -> tuple[float, float]:
        """The scene times [start, end) a clip's frames show."""
        found = self._nearest(clip)
        sure = self.people[found]
        if not sure.any():
            raise AssertionError("no frame of the clip shows the scene's pedestrians")
        offset = int(np.median((found - np.arange(len(clip)))[sure]))
        return offset / FPS, (offset + len(clip)) / FPS


def drawn_boxes(snapshot: BGRImage) -> tuple[NDArray[np.int32], BGRImage]:
    """The boxes ``clips.write_snapshot`` drew on a snapshot (found by their colour), and the
    snapshot with them painted out: a box drawn tight around a person hides them from the
    detector as much as it shows them to the owner."""
    b, g, r = (snapshot[:, :, k].astype(np.int32) for k in range(3))
    ink = ((b < 110) & (g > 130) & (r > 180) & (r - b > 100)).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:] if w > 8 and h > 20]
    mask = cv2.dilate(ink * 255, np.ones((3, 3), np.uint8))
    clean = cv2.inpaint(snapshot, mask, 3, cv2.INPAINT_TELEA)
    return np.array(boxes, dtype=np.int32).reshape(-1, 4), np.asarray(clean, dtype=np.uint8)
