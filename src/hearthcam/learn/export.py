"""Exporting a dataset: frames decoded from the redacted clips, boxes, and the manifest.

Frames come only from a share's redacted copy (``privacy.consent.redacted_path``), decrypted
through ``MediaIO`` in memory; the private original is never read. The dataset is plaintext by
nature, so it is written outside the data directory, into a hidden partial folder beside the
target that becomes the target only once everything (the manifest last) is written; an error
removes it. ``manifest.json`` lists every clip with the consent receipt it was used under, in
the shape ``ModelRegistry.register`` records as a model's lineage.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import av
import av.error
import numpy as np

from hearthcam.errors import HearthcamError
from hearthcam.layout import outside
from hearthcam.learn.dataset import DatasetClip, DatasetSplit, Split, build_clips
from hearthcam.learn.formats import WRITERS, ClipInfo, ExportFormat, Writer
from hearthcam.learn.registry import ModelRegistry
from hearthcam.privacy.consent import redacted_path
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.types import BGRImage
from hearthcam.vault.media import MediaIO

MANIFEST = "manifest.json"


class ExportError(HearthcamError):
    """A dataset that cannot be written (a target inside the data dir, an unreadable clip)."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What the user asked for."""

    format: ExportFormat
    every: int = 1  # image formats keep every N-th frame; sequence formats keep all
    test_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ClipCount:
    """What one clip contributed."""

    frames: int
    images: int
    boxes: int


def code_version() -> str:
    """The installed hearthcam's version (what made the dataset)."""
    try:
        return importlib.metadata.version("hearthcam")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def gather(store: Store, data_dir: Path, key: bytes) -> list[DatasetClip]:
    """The dataset's clips from the store: annotated, published, never withdrawn; households
    named by an HMAC under ``key``."""
    annotations = AnnotationStore(store).annotations()
    shares = ShareStore(store)
    found: dict[str, ShareRecord] = {}
    for share_id in {a.share_id for a in annotations}:
        if (record := shares.get(share_id)) is not None:
            found[share_id] = record
    return build_clips(annotations, found, ModelRegistry(store, data_dir).excluded(), key)


def probe(media: MediaIO, path: Path) -> ClipInfo:
    """A clip's size, rate and frame count (its packets, demuxed without decoding)."""
    reader = media.open(path)
    try:
        with av.open(cast(BinaryIO, reader), "r") as container:
            if not container.streams.video:
                raise ExportError(f"{path.parent.name}: the redacted clip has no video")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            size = int(stream.codec_context.width), int(stream.codec_context.height)
            frames = sum(1 for p in container.demux(stream) if p.size)
    except av.error.FFmpegError as error:
        raise ExportError(f"{path.parent.name}: the redacted clip is unreadable: {error}") from None
    finally:
        reader.close()
    return ClipInfo(size[0], size[1], rate, frames)


def decode(media: MediaIO, path: Path) -> Iterator[BGRImage]:
    """Every frame of a clip, decoded in memory (nothing decrypted touches the disk)."""
    reader = media.open(path)
    try:
        with av.open(cast(BinaryIO, reader), "r") as container:
            for frame in container.decode(container.streams.video[0]):
                yield np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    except av.error.FFmpegError as error:
        raise ExportError(f"{path.parent.name}: the redacted clip is unreadable: {error}") from None
    finally:
        reader.close()


def _write_clip(
    writer: Writer,
    frames: Iterator[BGRImage],
    clip: DatasetClip,
    every: int,
    on_frame: Callable[[], None],
) -> ClipCount:
    count = images = boxes = 0
    for index, image in enumerate(frames):
        if index % every == 0:
            kept = clip.boxes_at(index)
            writer.frame(index, image, kept)
            images, boxes = images + 1, boxes + len(kept)
        count += 1
        on_frame()
    writer.end()
    return ClipCount(count, images, boxes)


def manifest(
    split: DatasetSplit,
    counts: dict[str, ClipCount],
    options: ExportOptions,
    categories: list[str],
    now: float,
) -> dict[str, Any]:
    """The dataset's manifest: every clip and its consent id, the split and its counts."""
    clips: list[dict[str, Any]] = []
    for clip in (*split.train, *split.test):
        c = counts[clip.share_id]
        clips.append({
            "share": clip.share_id, "receipt": clip.receipt_sha256, "split": split.of(clip).value,
            "household": clip.household, "verdict": clip.verdict.value,
            "reason": None if clip.reason is None else clip.reason.value,
            "frames": c.frames, "images": c.images, "boxes": c.boxes,
        })  # fmt: skip
    totals: dict[str, dict[str, int]] = {}
    for part in Split:
        mine = [c for c in clips if c["split"] == part.value]
        totals[part.value] = {
            "clips": len(mine),
            "households": len({c["household"] for c in mine}),
            "images": sum(int(c["images"]) for c in mine),
            "boxes": sum(int(c["boxes"]) for c in mine),
        }
    return {
        "format": options.format.value,
        "created": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "split": {"by": "household", "test_fraction": options.test_fraction,
                  "seed": options.seed, "note": split.note},
        "every": 1 if options.format.sequences else options.every,
        "categories": categories,
        "counts": totals,
        "clips": clips,
    }  # fmt: skip


def _prepare(target: Path, data_dir: Path) -> Path:
    if not outside(target, data_dir):
        raise ExportError(f"{target}: write the dataset outside the data directory {data_dir}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target} exists and is not an empty folder")
    partial = target.parent / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed export
    partial.mkdir(parents=True)
    return partial


def export(
    split: DatasetSplit,
    media: MediaIO,
    data_dir: Path,
    target: Path,
    options: ExportOptions,
    now: float,
    on_frame: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Writes the dataset into ``target``; returns its manifest. ExportError (and nothing
    left behind) if it cannot."""
    clips: Sequence[DatasetClip] = (*split.train, *split.test)
    if not clips:
        raise ExportError("nothing to export: no published, annotated clip")
    target = target.expanduser().absolute()
    partial = _prepare(target, data_dir)
    try:
        categories = sorted({label for clip in clips for label in clip.labels})
        writer: Writer = WRITERS[options.format](partial, categories)
        every = 1 if options.format.sequences else max(1, options.every)
        counts: dict[str, ClipCount] = {}
        for clip in clips:
            path = redacted_path(data_dir, clip.share_id)
            writer.begin(clip, split.of(clip), probe(media, path))
            counts[clip.share_id] = _write_clip(writer, decode(media, path), clip, every, on_frame)
        writer.finish()
        document = manifest(split, counts, options, categories, now)
        (partial / MANIFEST).write_text(json.dumps(document, indent=1))
        if target.exists():
            target.rmdir()
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return document


def total_frames(split: DatasetSplit, media: MediaIO, data_dir: Path) -> int:
    """Frames the export will decode (for a progress bar's total)."""
    clips = (*split.train, *split.test)
    return sum(probe(media, redacted_path(data_dir, c.share_id)).frames for c in clips)
