"""Which times of a footage an event's clips show, found from the clips' pictures.

Not from the window the pipeline meant to cut: each clip frame is matched to the nearest frame
of the footage by a small grey thumbnail. Frames with a visitor in view are distinct; an empty
scene's frames are not, so the clip's place is the median offset of its frames that match a
visit's frames, and it spans as many footage frames from there as it has (clips are stream
copies of the recording, which copies the source: frame for frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam import app as composition
from hearthcam.config import Config
from hearthcam.store.db import Store
from hearthcam.types import BGRImage, Event
from hearthcam_bench.quality_truth import Stretch

Thumbs = NDArray[np.float32]


def thumb(image: BGRImage) -> NDArray[np.float32]:
    """A 64x48 grey thumbnail, flattened."""
    small = cv2.resize(image, (64, 48), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), dtype=np.float32).ravel()


def video_thumbs(source: str | BinaryIO) -> tuple[Thumbs, NDArray[np.float64]]:
    """The thumbnails of every frame of a video and the frames' times (s)."""
    thumbs, times = [], []
    with av.open(source, "r") as container:
        for frame in container.decode(video=0):
            thumbs.append(thumb(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)))
            times.append(float(frame.time or 0.0))
    if not thumbs:
        return np.zeros((0, 64 * 48), dtype=np.float32), np.zeros(0)
    return np.stack(thumbs), np.asarray(times, dtype=np.float64)


@dataclass(frozen=True)
class FootageIndex:
    """A footage's thumbnails, frame times, and which frames lie in a visit."""

    thumbs: Thumbs
    times: NDArray[np.float64]
    marked: NDArray[np.bool_]

    @classmethod
    def of(cls, path: Path, visits: Sequence[Stretch]) -> FootageIndex:
        thumbs, times = video_thumbs(str(path))
        marked = np.zeros(len(times), dtype=bool)
        for v in visits:
            marked |= (times >= v.start) & (times < v.end)
        return cls(thumbs, times, marked)

    def span_of(self, clip: Thumbs) -> tuple[float, float] | None:
        """The footage times [start, end) a clip's frames show (None for an empty clip)."""
        if not len(clip) or not len(self.thumbs):
            return None
        d = (clip**2).sum(1)[:, None] - 2 * clip @ self.thumbs.T + (self.thumbs**2).sum(1)
        nearest = d.argmin(axis=1)
        sure = self.marked[nearest]
        offsets = (nearest - np.arange(len(clip)))[sure if sure.any() else slice(None)]
        first = int(np.clip(np.median(offsets), 0, len(self.times) - 1))
        last = min(first + len(clip), len(self.times)) - 1
        step = float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.0
        return float(self.times[first]), float(self.times[last]) + step


def clip_spans(
    config: Config, events: Sequence[Event], index: FootageIndex
) -> list[tuple[float, float]]:
    """The footage times every clip of the events shows, read back from the data dir."""
    data = config.data_dir.absolute()
    spans = []
    with Store.open(config.database_url, data_dir=data) as store:
        media = composition.open_media_to_read(store, data)
        for event in events:
            for clip in event.clips:
                with media.open(clip) as file:
                    thumbs, _ = video_thumbs(cast(BinaryIO, file))
                span = index.span_of(thumbs)
                if span is not None:
                    spans.append(span)
    return spans
