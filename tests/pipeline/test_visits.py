"""Issue 12 on real footage: one visit, one event, and every tracked second in one of its clips.

A scene of three visits of real pedestrians (vtest.avi, each visit other people) with the empty
walkway between them for 3 and 4 s, analysed by the whole live path with the real detector. The
first visit (14 s) is longer than one clip may be here (``max_clip`` 8 s), so it needs several.
Where a clip lies in the scene is found from its pictures (``tests.support.clip_coverage``), not
from the windows the pipeline meant to cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, cast

import cv2
import numpy as np
import pytest

from hearthcam import analysis
from hearthcam import app as composition
from hearthcam.config import Config, DetectorConfig, parse_config
from hearthcam.labels import class_id_of
from hearthcam.pipeline.detect import load_detector
from hearthcam.scenes import VTEST, Part, Span, write_scene
from hearthcam.store.db import Store
from hearthcam.types import Event, Verdict
from hearthcam_bench.quality_truth import covered
from tests.support.clip_coverage import SceneIndex, drawn_boxes, video_thumbs
from tests.support.required import require

pytestmark = pytest.mark.integration

SCRIPT = [
    (Part.QUIET, 2.0),
    (Part.PEOPLE, 14.0),
    (Part.QUIET, 3.0),
    (Part.PEOPLE, 6.0),
    (Part.QUIET, 4.0),
    (Part.PEOPLE, 6.0),
    (Part.QUIET, 5.0),
]
PEOPLE_FROM = (20, 300, 400)  # vtest.avi frames: no frame shows twice
RECORD = {"segment_seconds": 2, "pre_roll": 2, "post_roll": 2, "min_clip": 4, "max_clip": 8}
FRAME = 0.1  # one scene frame (10 fps): how far a clip's edge may be off


@dataclass(frozen=True)
class Analysed:
    spans: list[Span]
    scene: SceneIndex
    config: Config
    events: list[Event]
    clips: dict[str, list[tuple[float, float]]]  # event id -> scene span of each clip
    snapshots: dict[str, np.ndarray]

    @property
    def visits(self) -> list[Span]:
        return [s for s in self.spans if s.part is Part.PEOPLE]

    @property
    def length(self) -> float:
        return self.spans[-1].end


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    require(
        VTEST.is_file(), f"{VTEST} is missing (Debian opencv-doc; scripts/setup.sh installs it)"
    )
    root = tmp_path_factory.mktemp("visits")
    path = root / "visits.mp4"
    spans = write_scene(path, SCRIPT, people_from=PEOPLE_FROM)
    config = parse_config({"data_dir": str(root / "data"), "record": RECORD})
    events = analysis.analyze(str(path), config)
    scene = SceneIndex.of(path, spans)
    clips: dict[str, list[tuple[float, float]]] = {}
    snapshots: dict[str, np.ndarray] = {}
    data = config.data_dir.absolute()
    with Store.open(config.database_url, data_dir=data) as store:
        media = composition.open_media_to_read(store, data)
        for event in events:
            spans_of = []
            for clip in event.clips:
                with media.open(clip) as file:
                    spans_of.append(scene.span_of(video_thumbs(cast(BinaryIO, file))))
            clips[event.id] = spans_of
            if event.snapshot is not None:
                with media.open(event.snapshot) as file:
                    jpeg = np.frombuffer(file.read(), dtype=np.uint8)
                picture = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
                assert picture is not None
                snapshots[event.id] = picture
    return Analysed(spans, scene, config, events, clips, snapshots)


def overlap(event: Event, span: Span) -> float:
    return min(event.end, span.end) - max(event.start, span.start)


def test_each_visit_after_an_empty_room_is_its_own_event(analysed: Analysed) -> None:
    threats = [e for e in analysed.events if e.verdict is Verdict.THREAT]
    shown = [(round(e.start, 1), round(e.end, 1), e.verdict.value) for e in analysed.events]
    assert len(threats) == len(analysed.visits), shown
    for visit, event in zip(analysed.visits, sorted(threats, key=lambda e: e.start), strict=True):
        # Found within a second of the visitor coming, ended within a second of them going.
        assert abs(event.start - visit.start) < 1.0, (visit, shown)
        assert abs(event.end - visit.end) < 1.0, (visit, shown)
        assert [v for v in analysed.visits if overlap(event, v) > 0] == [visit]
    # The empty room after a visit (the motion detector still forgetting it) is no event.
    assert len(analysed.events) == len(threats), shown


def tracked_span(event: Event) -> tuple[float, float]:
    return min(t.first_pts for t in event.tracks), max(t.last_pts for t in event.tracks)


def test_a_visit_longer_than_a_clip_is_in_consecutive_clips(analysed: Analysed) -> None:
    long_visit = analysed.visits[0]
    (event,) = [e for e in analysed.events if overlap(e, long_visit) > 0]
    clips = analysed.clips[event.id]
    assert len(clips) >= 2, clips
    assert all(end - start <= RECORD["max_clip"] + 1.0 for start, end in clips), clips  # + a GOP
    first, last = tracked_span(event)
    # Every second with the visitor tracked is in a clip.
    assert covered(clips, first, last + FRAME, slack=FRAME), (first, last, clips)


def test_every_event_clip_covers_its_tracks_with_the_rolls_and_its_snapshot_shows_them(
    analysed: Analysed,
) -> None:
    detector = load_detector(DetectorConfig())
    person = class_id_of("person")
    for event in analysed.events:
        clips = analysed.clips[event.id]
        assert clips, event
        first, last = tracked_span(event)
        want = (
            max(0.0, first - RECORD["pre_roll"]),
            min(analysed.length, last + RECORD["post_roll"]),
        )
        assert covered(clips, *want, slack=FRAME), (event.start, event.end, want, clips)
        snapshot = analysed.snapshots[event.id]
        seen_at = analysed.scene.nearest(snapshot)
        assert event.start - FRAME <= seen_at <= event.end + FRAME, (seen_at, event)
        # The detector looks where the snapshot's boxes are, as the live path looked then.
        boxes, clean = drawn_boxes(snapshot)
        assert len(boxes), event.id
        found = detector.detect_regions(clean, boxes)
        people = found.confidence[found.class_id == person]
        assert len(people), (event.id, found)
        assert people.max() >= 0.5, (event.id, found)
