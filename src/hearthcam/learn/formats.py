"""The dataset file formats: COCO, YOLO, CVAT for video 1.1 and MOTChallenge.

Each writer is told of one clip at a time (``begin``), of the frames it keeps (``frame``:
the decoded image and its boxes, relative xyxy) and of the clip's end (``end``); ``finish``
writes what spans clips. Writers only write under their root, the export's partial folder.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import yaml

from hearthcam.annotate.workbench import LabeledBox
from hearthcam.learn.dataset import DatasetClip, Split
from hearthcam.types import BGRImage

JPEG_QUALITY = 92


class ExportFormat(enum.StrEnum):
    """The dataset formats ``hearthcam export`` writes."""

    COCO = "coco"
    YOLO = "yolo"
    CVAT = "cvat"
    MOT = "mot"

    @property
    def sequences(self) -> bool:
        """Whether the format is of whole videos (every frame), not of sampled images."""
        return self in (ExportFormat.CVAT, ExportFormat.MOT)


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What the writers need to know of a clip's video."""

    width: int
    height: int
    fps: float
    frames: int


@dataclass(frozen=True, slots=True)
class PixelBox:
    """A box in pixels, clamped to the frame."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.bottom - self.top


def to_pixels(box: LabeledBox, width: int, height: int) -> PixelBox:
    """A relative box in pixels of a ``width`` x ``height`` frame."""
    x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in box.xyxy)
    return PixelBox(x1 * width, y1 * height, x2 * width, y2 * height)


def write_jpeg(path: Path, image: BGRImage) -> None:
    """Writes one frame as JPEG (OpenCV writes no metadata, so nothing but pixels leaves)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"frame {path.name} could not be encoded as JPEG")
    path.write_bytes(data.tobytes())


class Writer(Protocol):
    """One dataset format's files."""

    def begin(self, clip: DatasetClip, split: Split, info: ClipInfo) -> None:
        """A clip starts."""

    def frame(self, index: int, image: BGRImage, boxes: tuple[LabeledBox, ...]) -> None:
        """One kept frame of the current clip with its boxes."""

    def end(self) -> None:
        """The current clip ended."""

    def finish(self) -> None:
        """Every clip was written."""


@dataclass
class _Current:
    clip: DatasetClip
    split: Split
    info: ClipInfo


class _Base:
    """What every writer keeps: its root, the categories, the clip being written."""

    def __init__(self, root: Path, categories: list[str]) -> None:
        self.root = root
        self.categories = categories
        self._current: _Current | None = None
        self.splits: set[Split] = set()

    def begin(self, clip: DatasetClip, split: Split, info: ClipInfo) -> None:
        """A clip starts."""
        self._current = _Current(clip, split, info)
        self.splits.add(split)

    @property
    def current(self) -> _Current:
        """The clip being written."""
        assert self._current is not None, "frame() before begin()"
        return self._current

    def end(self) -> None:
        """The current clip ended."""
        self._current = None

    def category(self, label: str) -> int:
        """A label's 0-based class index."""
        return self.categories.index(label)


class CocoWriter(_Base):
    """COCO: ``images/<split>/*.jpg`` and ``annotations/instances_<split>.json``."""

    def __init__(self, root: Path, categories: list[str]) -> None:
        super().__init__(root, categories)
        self._images: dict[Split, list[dict[str, Any]]] = {s: [] for s in Split}
        self._boxes: dict[Split, list[dict[str, Any]]] = {s: [] for s in Split}

    def frame(self, index: int, image: BGRImage, boxes: tuple[LabeledBox, ...]) -> None:
        """Writes the image and records its boxes."""
        c = self.current
        name = f"{c.clip.share_id}_{index:06d}.jpg"
        write_jpeg(self.root / "images" / c.split / name, image)
        image_id = sum(len(v) for v in self._images.values()) + 1
        self._images[c.split].append({
            "id": image_id, "file_name": f"{c.split}/{name}", "width": c.info.width,
            "height": c.info.height, "clip": c.clip.share_id, "frame": index,
        })  # fmt: skip
        for box in boxes:
            p = to_pixels(box, c.info.width, c.info.height)
            self._boxes[c.split].append({
                "id": sum(len(v) for v in self._boxes.values()) + 1, "image_id": image_id,
                "category_id": self.category(box.label) + 1,
                "bbox": [round(p.left, 2), round(p.top, 2), round(p.width, 2), round(p.height, 2)],
                "area": round(p.width * p.height, 2), "iscrowd": 0, "track_id": box.track,
            })  # fmt: skip

    def finish(self) -> None:
        """Writes one instances file per split that has clips."""
        categories = [
            {"id": i + 1, "name": n, "supercategory": "object"}
            for i, n in enumerate(self.categories)
        ]
        for split in sorted(self.splits):
            document = {
                "info": {"description": f"hearthcam dataset ({split})"},
                "licenses": [],
                "images": self._images[split],
                "annotations": self._boxes[split],
                "categories": categories,
            }
            path = self.root / "annotations" / f"instances_{split}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=1))


class YoloWriter(_Base):
    """YOLO: ``images/<split>/*.jpg``, ``labels/<split>/*.txt`` (class cx cy w h) and
    ``data.yaml``."""

    def frame(self, index: int, image: BGRImage, boxes: tuple[LabeledBox, ...]) -> None:
        """Writes the image and its label file (empty when it has no boxes: a background)."""
        c = self.current
        stem = f"{c.clip.share_id}_{index:06d}"
        write_jpeg(self.root / "images" / c.split / f"{stem}.jpg", image)
        lines = []
        for box in boxes:
            x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in box.xyxy)
            centre = ((x1 + x2) / 2, (y1 + y2) / 2)
            values = (*centre, x2 - x1, y2 - y1)
            lines.append(f"{self.category(box.label)} " + " ".join(f"{v:.6f}" for v in values))
        label = self.root / "labels" / c.split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(f"{line}\n" for line in lines))

    def finish(self) -> None:
        """Writes data.yaml (val is the test split, or train when there is none)."""
        test = Split.TEST in self.splits
        data = {
            "path": ".",
            "train": f"images/{Split.TRAIN}",
            "val": f"images/{Split.TEST if test else Split.TRAIN}",
            **({"test": f"images/{Split.TEST}"} if test else {}),
            "names": dict(enumerate(self.categories)),
        }
        (self.root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@dataclass
class _Track:
    label: str
    boxes: dict[int, LabeledBox] = field(default_factory=dict)


def _tracks(frames: list[tuple[int, tuple[LabeledBox, ...]]]) -> list[_Track]:
    """Boxes grouped into objects (label and track id), in order of first appearance."""
    tracks: dict[tuple[str, int], _Track] = {}
    for index, boxes in frames:
        for box in boxes:
            tracks.setdefault((box.label, box.track), _Track(box.label)).boxes[index] = box
    return list(tracks.values())


class _SequenceWriter(_Base):
    """A writer of whole clips: every frame's image and boxes, written out at the clip's end."""

    def begin(self, clip: DatasetClip, split: Split, info: ClipInfo) -> None:
        """A clip starts."""
        super().begin(clip, split, info)
        self.seen: list[tuple[int, tuple[LabeledBox, ...]]] = []

    def folder(self) -> Path:
        """The current clip's folder."""
        return self.root / self.current.split / self.current.clip.share_id

    def frame(self, index: int, image: BGRImage, boxes: tuple[LabeledBox, ...]) -> None:
        """Writes the image and keeps its boxes for the clip's annotation file."""
        write_jpeg(self.image_path(index), image)
        self.seen.append((index, boxes))

    def image_path(self, index: int) -> Path:
        """Where frame ``index`` goes."""
        raise NotImplementedError

    @property
    def length(self) -> int:
        """The current clip's frames as decoded (a container's own count may be off)."""
        return len(self.seen)

    def finish(self) -> None:
        """Nothing spans clips."""


class CvatWriter(_SequenceWriter):
    """CVAT for video 1.1: ``<split>/<clip>/annotations.xml`` (tracks of boxes) and
    ``<split>/<clip>/images/frame_NNNNNN.jpg``."""

    def image_path(self, index: int) -> Path:
        """Where frame ``index`` goes."""
        return self.folder() / "images" / f"frame_{index:06d}.jpg"

    def end(self) -> None:
        """Writes the clip's annotations.xml."""
        c = self.current
        root = ET.Element("annotations")
        ET.SubElement(root, "version").text = "1.1"
        self._meta(ET.SubElement(root, "meta"), c)
        keyframes = {k.frame for k in c.clip.keyframes}
        for number, track in enumerate(_tracks(self.seen)):
            element = ET.SubElement(
                root, "track", id=str(number), label=track.label, source="manual"
            )
            for index, box in sorted(track.boxes.items()):
                self._box(element, index, box, keyframe=index in keyframes)
            last = max(track.boxes)
            if last + 1 < self.length:  # CVAT ends a track with an "outside" box
                self._box(element, last + 1, track.boxes[last], keyframe=True, outside=True)
        ET.indent(root)
        self.folder().mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(
            self.folder() / "annotations.xml", encoding="utf-8", xml_declaration=True
        )
        super().end()

    def _meta(self, meta: ET.Element, c: _Current) -> None:
        task = ET.SubElement(meta, "task")
        facts = {
            "id": "0", "name": c.clip.share_id, "size": str(self.length),
            "mode": "interpolation", "overlap": "0", "start_frame": "0",
            "stop_frame": str(max(0, self.length - 1)),
        }  # fmt: skip
        for key, value in facts.items():
            ET.SubElement(task, key).text = value
        labels = ET.SubElement(task, "labels")
        for name in self.categories:
            label = ET.SubElement(labels, "label")
            ET.SubElement(label, "name").text = name
            ET.SubElement(label, "attributes")
        size = ET.SubElement(task, "original_size")
        ET.SubElement(size, "width").text = str(c.info.width)
        ET.SubElement(size, "height").text = str(c.info.height)

    def _box(
        self, track: ET.Element, index: int, box: LabeledBox, keyframe: bool, outside: bool = False
    ) -> None:
        p = to_pixels(box, self.current.info.width, self.current.info.height)
        ET.SubElement(
            track, "box", frame=str(index), outside=str(int(outside)), occluded="0",
            keyframe=str(int(keyframe)), xtl=f"{p.left:.2f}", ytl=f"{p.top:.2f}",
            xbr=f"{p.right:.2f}", ybr=f"{p.bottom:.2f}", z_order="0",
        )  # fmt: skip


class MotWriter(_SequenceWriter):
    """MOTChallenge: ``<split>/<clip>/img1/NNNNNN.jpg``, ``gt/gt.txt`` (frame, id, left, top,
    width, height, 1, class, 1; frames and ids from 1) and ``seqinfo.ini``."""

    def image_path(self, index: int) -> Path:
        """Where frame ``index`` goes (MOT numbers frames from 1)."""
        return self.folder() / "img1" / f"{index + 1:06d}.jpg"

    def end(self) -> None:
        """Writes the clip's gt.txt and seqinfo.ini."""
        c = self.current
        rows = []
        for number, track in enumerate(_tracks(self.seen), start=1):
            for index, box in sorted(track.boxes.items()):
                p = to_pixels(box, c.info.width, c.info.height)
                cls = self.category(track.label) + 1
                rows.append((index + 1, number, p, cls))
        rows.sort(key=lambda r: (r[0], r[1]))
        lines = [
            f"{f},{n},{p.left:.2f},{p.top:.2f},{p.width:.2f},{p.height:.2f},1,{cls},1\n"
            for f, n, p, cls in rows
        ]
        gt = self.folder() / "gt" / "gt.txt"
        gt.parent.mkdir(parents=True, exist_ok=True)
        gt.write_text("".join(lines))
        (self.folder() / "seqinfo.ini").write_text(
            f"[Sequence]\nname={c.clip.share_id}\nimDir=img1\nframeRate={round(c.info.fps)}\n"
            f"seqLength={self.length}\nimWidth={c.info.width}\nimHeight={c.info.height}\n"
            "imExt=.jpg\n"
        )
        super().end()


WRITERS: dict[ExportFormat, type[CocoWriter | YoloWriter | CvatWriter | MotWriter]] = {
    ExportFormat.COCO: CocoWriter,
    ExportFormat.YOLO: YoloWriter,
    ExportFormat.CVAT: CvatWriter,
    ExportFormat.MOT: MotWriter,
}
