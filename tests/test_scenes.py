"""The test scenes are what they say: decodable H.264 of the stated length, with real people only
where the script puts them (checked with the real detector)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from hearthcam import scenes
from hearthcam.config import DetectorConfig
from hearthcam.errors import SourceUnreadable
from hearthcam.labels import COCO_LABELS
from hearthcam.pipeline.detect import OnnxDetector, load_detector
from hearthcam.scenes import FPS, SIZE, Part, Span
from hearthcam.types import BGRImage, Detections
from tests.support.required import require

pytestmark = pytest.mark.integration  # real footage (opencv-doc) and the real model

PERSON = COCO_LABELS.index("person")
PETS = {COCO_LABELS.index("cat"), COCO_LABELS.index("dog")}


@pytest.fixture(scope="module", autouse=True)
def _needs_vtest() -> None:
    require(scenes.VTEST.is_file(), f"{scenes.VTEST} is missing (Debian opencv-doc)")


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return load_detector(DetectorConfig(threads=2))


SCRIPT = [(Part.QUIET, 0.5), (Part.PET, 1.0), (Part.LIGHT, 1.5), (Part.PEOPLE, 1.0)]


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Span]]:
    path = tmp_path_factory.mktemp("scene") / "nested" / "tiny.mp4"
    return path, scenes.write_scene(path, SCRIPT, gop=5)


@pytest.fixture(scope="module")
def tiny_frames(tiny_scene: tuple[Path, list[Span]]) -> list[BGRImage]:
    with av.open(str(tiny_scene[0])) as container:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8)
            for f in container.decode(video=0)
        ]


def _people(dets: Detections, min_score: float = 0.5) -> Detections:
    return dets[(dets.class_id == PERSON) & (dets.confidence >= min_score)]


def test_write_scene_reports_back_to_back_spans(tiny_scene: tuple[Path, list[Span]]) -> None:
    _, spans = tiny_scene
    assert spans == [
        Span(Part.QUIET, 0.0, 0.5),
        Span(Part.PET, 0.5, 1.5),
        Span(Part.LIGHT, 1.5, 3.0),
        Span(Part.PEOPLE, 3.0, 4.0),
    ]


def test_write_scene_is_a_decodable_h264_mp4_of_the_scripted_length(
    tiny_scene: tuple[Path, list[Span]], tiny_frames: list[BGRImage]
) -> None:
    path, _ = tiny_scene
    assert len(tiny_frames) == 4.0 * FPS
    assert all(f.shape == (SIZE[1], SIZE[0], 3) for f in tiny_frames)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == FPS
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(4.0, abs=0.11)
        packets = [p for p in container.demux(stream) if p.size]
    keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]  # no B-frames: in order
    assert keyframes == list(range(0, 40, 5))  # gop=5: a keyframe every 5 frames, no more


def _frame_at(frames: list[BGRImage], seconds: float) -> NDArray[np.int16]:
    return frames[round(seconds * FPS)].astype(np.int16)


def _changed_box(frame: BGRImage | NDArray[np.int16]) -> tuple[int, int, int, int]:
    """The box (xyxy) of what differs from the empty walkway; rows/columns of noise are ignored."""
    changed = np.abs(frame.astype(np.int16) - scenes.empty_walkway()).max(axis=2) > 40
    rows = np.nonzero(changed.sum(axis=1) > 20)[0]
    cols = np.nonzero(changed.sum(axis=0) > 20)[0]
    assert len(rows), "nothing changed"
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def test_each_span_shows_what_it_says(tiny_frames: list[BGRImage]) -> None:
    walkway = scenes.empty_walkway().astype(np.int16)

    quiet = _frame_at(tiny_frames, 0.2)
    assert np.abs(quiet - walkway).mean() < 4  # the empty walkway, plus noise and coding

    pet = _frame_at(tiny_frames, 1.0)
    x0, y0, x1, y1 = _changed_box(pet)
    assert y0 > SIZE[1] // 2  # along the ground, in the lower half
    assert 100 < x1 - x0 < SIZE[0] // 2  # cat-sized
    assert 100 < y1 - y0 < 200
    assert _changed_box(_frame_at(tiny_frames, 1.3))[0] > x0  # and walking left to right

    dim = _frame_at(tiny_frames, 2.2)  # the middle of the light change: darker all over
    assert dim.mean() < 0.8 * quiet.mean()
    assert (np.abs(dim - walkway).max(axis=2) > 20).mean() > 0.5

    people = _frame_at(tiny_frames, 3.5)
    assert (np.abs(people - walkway).max(axis=2) > 40).mean() > 0.01


def test_the_empty_walkway_has_no_people(detector: OnnxDetector) -> None:
    empty = scenes.empty_walkway()
    assert empty.shape == (SIZE[1], SIZE[0], 3)
    assert len(_people(detector.detect(empty))) == 0
    # The detector is not simply blind at this size: the footage the walkway came from has people.
    footage = next(scenes.vtest_frames(start=130, count=1))
    assert len(_people(detector.detect(footage))) >= 2


def test_the_people_span_has_people_and_the_quiet_span_none(
    detector: OnnxDetector, tiny_frames: list[BGRImage]
) -> None:
    people = tiny_frames[round(3.5 * FPS)]
    quiet = tiny_frames[round(0.2 * FPS)]
    assert len(_people(detector.detect(people))) >= 2
    assert len(_people(detector.detect(quiet))) == 0


def test_the_pet_span_is_a_cat_not_a_person(
    detector: OnnxDetector, tiny_frames: list[BGRImage]
) -> None:
    frame = tiny_frames[round(1.0 * FPS)]
    moved = np.array([_changed_box(frame)], dtype=np.int32)  # what motion would outline
    dets = detector.detect_regions(frame, moved)
    pets = dets[np.isin(dets.class_id, list(PETS)) & (dets.confidence >= 0.4)]
    assert len(pets) >= 1
    assert len(_people(dets)) == 0


def test_missing_footage_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(scenes, "VTEST", tmp_path / "vtest.avi")
    with pytest.raises(SourceUnreadable, match="opencv-doc"):
        next(scenes.vtest_frames())
