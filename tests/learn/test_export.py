"""`hearthcam export` end to end: real sealed media, real shares and annotations, every format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from hearthcam.annotate.workbench import Keyframe, LabeledBox, interpolate
from hearthcam.app import open_media
from hearthcam.cli import cli
from hearthcam.errors import HearthcamError
from hearthcam.learn.dataset import split_by_household
from hearthcam.learn.export import ExportOptions, gather
from hearthcam.learn.export import export as run_export
from hearthcam.learn.formats import ExportFormat
from hearthcam.learn.registry import ModelRegistry
from hearthcam.privacy.consent import Sharing, redacted_path
from hearthcam.store.annotations import AnnotationRecord, AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.vault.media import write_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.factories import make_h264_segment, read_frame_number

FRAMES = 20  # plain_clip: 2 s at 10 fps
REDACTED_FIRST = 500  # the number drawn on the redacted copy's first frame
HOUSEHOLDS = (73519, 86420)
KEYFRAMES = {
    "one": (
        Keyframe(4, (LabeledBox((0.1, 0.2, 0.4, 0.8), "person", 0),)),
        Keyframe(12, (LabeledBox((0.5, 0.2, 0.8, 0.8), "person", 0),)),
    ),
    "two": (
        Keyframe(3, (LabeledBox((0.1, 0.1, 0.3, 0.3), "person", 0),
                     LabeledBox((0.6, 0.6, 0.9, 0.9), "dog", 1))),
        Keyframe(9, (LabeledBox((0.2, 0.1, 0.4, 0.3), "person", 0),)),
    ),
}  # fmt: skip


@dataclass
class World:
    data: Path
    config: Path
    store: Store
    sharing: Sharing
    registry: ModelRegistry
    source: Path  # a real H.264 clip
    redacted: Path  # what the checks left: other frame numbers, so a test can tell them apart
    shares: dict[str, ShareRecord]
    secrets: list[str]  # what must never leave the box: household ids, camera names, event ids


def _publish(world: World, name: str, household: int, keyframes: tuple[Keyframe, ...]) -> None:
    """An owner shares a sealed event clip, the checks publish it, an annotator annotates it."""
    media = world.sharing.media
    event = event_with_clip(world.data, world.source)
    assert event.clip is not None
    plain = event.clip.read_bytes()
    event.clip.unlink()  # the recorder would have sealed it
    write_bytes(media, event.clip, event.camera, plain)
    share = world.sharing.share(event, household, 1, "Front door", agreed(world.sharing, event),
                                NOW)  # fmt: skip
    redacted = world.redacted.read_bytes()
    write_bytes(media, redacted_path(world.data, share.id), share.camera, redacted)
    shares = world.sharing.shares
    assert shares.set_status(share.id, "consented", "checking", NOW)
    assert shares.set_status(share.id, "checking", "published", NOW)
    stored = [asdict(k) for k in keyframes]
    AnnotationStore(world.store).add_annotation(
        AnnotationRecord(0, share.id, f"lease-{name}", 9, "threat", None, stored, NOW)
    )
    world.shares[name] = share
    world.secrets += [str(household), event.id, event.camera, "Front door"]


@pytest.fixture
def world(tmp_path: Path, plain_clip: Path) -> Iterator[World]:
    data = tmp_path / "data"
    data.mkdir()
    redacted = tmp_path / "redacted.mp4"
    make_h264_segment(redacted, seconds=2.0, fps=10, start_frame_number=REDACTED_FIRST)
    config = tmp_path / "hearthcam.yaml"
    config.write_text(f"data_dir: {data}\n")
    store = Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data)
    registry = ModelRegistry(store, data)
    sharing = Sharing(ShareStore(store), data, listeners=[registry], media=open_media(store, data))
    made = World(data, config, store, sharing, registry, plain_clip, redacted, {}, [])
    _publish(made, "one", HOUSEHOLDS[0], KEYFRAMES["one"])
    _publish(made, "two", HOUSEHOLDS[1], KEYFRAMES["two"])
    _publish(made, "gone", HOUSEHOLDS[0], KEYFRAMES["one"])
    assert made.sharing.withdraw(made.shares["gone"].id) is not None
    yield made
    store.close()


def export(world: World, target: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["export", str(target), "--config", str(world.config), *args])
    return result.exit_code, result.output


def expected_boxes(name: str, every: int = 1) -> int:
    return sum(len(interpolate(KEYFRAMES[name], i)) for i in range(0, FRAMES, every))


def clip_name(world: World, share_id: str) -> str:
    return next(n for n, s in world.shares.items() if s.id == share_id)


def read_manifest(world: World, target: Path) -> dict[str, object]:
    document = json.loads((target / "manifest.json").read_text())
    clips = document["clips"]
    assert {c["share"] for c in clips} == {world.shares[n].id for n in ("one", "two")}
    for c in clips:
        assert c["receipt"] == world.shares[clip_name(world, c["share"])].receipt_sha256
    assert len({c["household"] for c in clips}) == 2
    assert {c["split"] for c in clips} == {"train", "test"}  # two households, one each
    return dict(document)


def assert_nothing_leaks(world: World, target: Path) -> None:
    gone = world.shares["gone"].id
    for path in target.rglob("*"):
        assert gone not in path.name
        if path.suffix in {".json", ".txt", ".xml", ".yaml", ".ini"}:
            text = path.read_text()
            assert gone not in text
            for secret in world.secrets:
                assert not re.search(rf"(?<![\w.]){re.escape(secret)}(?![\w])", text), (
                    path,
                    secret,
                )
    assert plaintext_media_signatures(world.data) == []
    assert not list(target.parent.glob(".*.partial"))


def boxes_by_clip(world: World, counts: dict[str, int]) -> dict[str, int]:
    return {clip_name(world, share): n for share, n in counts.items()}


def coco_boxes(target: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for instances in (target / "annotations").glob("instances_*.json"):
        document = json.loads(instances.read_text())
        assert {c["name"] for c in document["categories"]} == {"dog", "person"}
        images = {i["id"]: i for i in document["images"]}
        for image in images.values():
            assert (target / "images" / image["file_name"]).stat().st_size > 0
            counts.setdefault(image["clip"], 0)
        for box in document["annotations"]:
            counts[images[box["image_id"]]["clip"]] += 1
            assert box["bbox"][2] > 0
    return counts


def yolo_boxes(target: Path) -> dict[str, int]:
    data = yaml.safe_load((target / "data.yaml").read_text())
    assert set(data["names"].values()) == {"dog", "person"}
    counts: dict[str, int] = {}
    for label in (target / "labels").rglob("*.txt"):
        image = target / "images" / label.parent.name / f"{label.stem}.jpg"
        assert image.is_file()
        lines = label.read_text().splitlines()
        for line in lines:
            cls, *values = line.split()
            assert int(cls) in data["names"]
            assert all(0.0 <= float(v) <= 1.0 for v in values)
        share = label.stem.rsplit("_", 1)[0]
        counts[share] = counts.get(share, 0) + len(lines)
    return counts


def cvat_boxes(target: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for xml in target.rglob("annotations.xml"):
        root = ET.parse(xml).getroot()
        assert root.findtext("version") == "1.1"
        assert root.findtext("meta/task/size") == str(FRAMES)
        assert len(list((xml.parent / "images").glob("frame_*.jpg"))) == FRAMES
        boxes = root.findall("track/box")
        counts[xml.parent.name] = sum(b.get("outside") == "0" for b in boxes)
    return counts


def mot_boxes(target: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for gt in target.rglob("gt/gt.txt"):
        sequence = gt.parent.parent
        assert f"seqLength={FRAMES}" in (sequence / "seqinfo.ini").read_text()
        for number in (1, 7, FRAMES):  # the redacted copy's frames, in order
            image = cv2.imread(str(sequence / "img1" / f"{number:06d}.jpg"))
            assert image is not None
            assert read_frame_number(image.astype(np.uint8)) == REDACTED_FIRST + number - 1
        rows = [line.split(",") for line in gt.read_text().splitlines()]
        assert all(len(r) == 9 and int(r[0]) >= 1 and int(r[1]) >= 1 for r in rows)
        counts[sequence.name] = len(rows)
    return counts


READERS = {"coco": coco_boxes, "yolo": yolo_boxes, "cvat": cvat_boxes, "mot": mot_boxes}


@pytest.mark.parametrize("fmt", ["coco", "yolo", "cvat", "mot"])
def test_every_format_exports_the_published_clips_and_only_them(
    world: World, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / "out" / fmt
    every = 2 if fmt in ("coco", "yolo") else 1
    code, output = export(world, target, "--format", fmt, "--every", str(every),
                          "--test-fraction", "0.5")  # fmt: skip
    assert code == 0, output
    assert "2 clips (1 train, 1 test)" in output
    document = read_manifest(world, target)
    assert document["format"] == fmt
    found = boxes_by_clip(world, READERS[fmt](target))
    assert found == {"one": expected_boxes("one", every), "two": expected_boxes("two", every)}
    assert_nothing_leaks(world, target)


def test_the_manifest_is_a_lineage_the_registry_reads(world: World, tmp_path: Path) -> None:
    target = tmp_path / "out"
    assert export(world, target, "--format", "mot")[0] == 0
    document = json.loads((target / "manifest.json").read_text())
    model = world.registry.register(document, {}, "v1", NOW)
    assert set(model.clips) == {world.shares["one"].id, world.shares["two"].id}
    world.sharing.withdraw(world.shares["one"].id)
    tainted = world.registry.get(model.id)
    assert tainted is not None
    assert tainted.status.value == "tainted"
    assert tainted.clips == [world.shares["two"].id]  # the withdrawn clip is forgotten
    again = tmp_path / "again"
    assert export(world, again, "--format", "mot")[0] == 0
    clips = json.loads((again / "manifest.json").read_text())["clips"]
    assert [c["share"] for c in clips] == [world.shares["two"].id]


def test_refusals_name_the_problem(world: World, tmp_path: Path) -> None:
    code, output = export(world, world.data / "dataset", "--format", "coco")
    assert code == 2
    assert "outside the data directory" in output
    (tmp_path / "into-data").symlink_to(world.data)  # outside, but a link in
    code, output = export(world, tmp_path / "into-data" / "dataset", "--format", "coco")
    assert code == 2
    assert "outside the data directory" in output
    code, output = export(world, tmp_path / "x", "--format", "pascal")
    assert code == 2
    assert "--format" in output
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    code, output = export(world, full, "--format", "coco")
    assert code == 2
    assert "not an empty folder" in output
    assert (full / "keep.txt").read_text() == "mine"
    for share in list(world.shares.values())[:2]:
        world.sharing.withdraw(share.id)
    code, output = export(world, tmp_path / "none", "--format", "coco")
    assert code == 2
    assert "nothing to export" in output
    assert not (tmp_path / "none").exists()


def test_a_failed_export_leaves_nothing_behind(world: World, tmp_path: Path) -> None:
    world.sharing.delete_redacted(world.shares["two"].id)  # its redacted copy's key is gone
    target = tmp_path / "out"
    code, output = export(world, target, "--format", "coco")
    assert code == 2
    assert "export:" in output
    assert not target.exists()
    assert not list(tmp_path.glob(".*.partial"))


def test_an_export_failing_midway_removes_its_partial_folder(world: World, tmp_path: Path) -> None:
    clips = gather(world.store, world.data, b"k" * 32)
    split = split_by_household(clips, 0.5)
    world.sharing.delete_redacted(split.test[0].share_id)  # the second clip written
    target = tmp_path / "out"
    written: list[int] = []
    options = ExportOptions(ExportFormat.YOLO)
    with pytest.raises((HearthcamError, OSError)):
        run_export(split, world.sharing.media, world.data, target, options, NOW,
                   lambda: written.append(1))  # fmt: skip
    assert len(written) == FRAMES  # the first clip was written, then removed
    assert not target.exists()
    assert not list(tmp_path.glob(".*.partial"))
