"""Tests of zones: scaling to the frame, the bottom-centre rule and per-zone object filters."""

from __future__ import annotations

import numpy as np
import pytest

from hearthcam.config import ZoneConfig
from hearthcam.labels import class_id_of
from hearthcam.pipeline.zones import Zone, build_zones, zones_hit
from hearthcam.types import Detections


def zone_cfg(coordinates: str, objects: list[str] | None = None) -> ZoneConfig:
    return ZoneConfig.model_validate({"coordinates": coordinates, "objects": objects or []})


def detections(*rows: tuple[str, float, float, float, float]) -> Detections:
    """Detections from (label, x0, y0, x1, y1) rows."""
    return Detections(
        xyxy=np.array([r[1:] for r in rows], dtype=np.float32).reshape(-1, 4),
        confidence=np.full(len(rows), 0.9, dtype=np.float32),
        class_id=np.array([class_id_of(r[0]) for r in rows], dtype=np.int32),
    )


# The lower half of the frame, e.g. a lawn in front of the house.
LOWER_HALF = "0,0.5,1,0.5,1,1,0,1"


def test_build_zones_scales_relative_points_to_pixels() -> None:
    zones = build_zones({"lawn": zone_cfg(LOWER_HALF, ["person"])}, 641, 361)
    assert len(zones) == 1
    zone = zones[0]
    assert zone.name == "lawn"
    assert zone.objects == frozenset({"person"})
    assert zone.polygon.dtype == np.float32
    np.testing.assert_allclose(zone.polygon, [[0, 180], [640, 180], [640, 360], [0, 360]])


def test_build_zones_for_another_frame_size() -> None:
    small, large = (
        build_zones({"lawn": zone_cfg(LOWER_HALF)}, w, h)[0] for w, h in ((321, 181), (1281, 721))
    )
    np.testing.assert_allclose(large.polygon, small.polygon * 4)


def test_build_zones_keeps_every_zone_in_order() -> None:
    zones = build_zones(
        {"porch": zone_cfg(LOWER_HALF), "street": zone_cfg("0,0,1,0,1,0.3")}, 640, 360
    )
    assert [z.name for z in zones] == ["porch", "street"]
    assert zones[1].objects == frozenset()
    assert build_zones({}, 640, 360) == []


def test_frame_corners_are_inside_a_full_frame_zone() -> None:
    (zone,) = build_zones({"all": zone_cfg("0,0,1,0,1,1,0,1")}, 640, 360)
    for x, y in [(0, 0), (639, 0), (639, 359), (0, 359), (320, 180)]:
        assert zone.contains(x, y), (x, y)
    assert not zone.contains(640.5, 180)
    assert not zone.contains(320, -1)


def test_contains_counts_the_edge() -> None:
    zone = Zone("sq", np.array([[10, 10], [20, 10], [20, 20], [10, 20]], np.float32), frozenset())
    assert zone.contains(15, 15)
    assert zone.contains(10, 15)
    assert zone.contains(20, 20)
    assert not zone.contains(21, 15)
    assert not zone.contains(15, 9.5)


def test_zone_is_entered_by_the_feet_not_the_body() -> None:
    # A band across the frame (a pavement), y from 108 to 216 in a 641x361 frame.
    zones = build_zones({"pavement": zone_cfg("0,0.3,1,0.3,1,0.6,0,0.6")}, 641, 361)
    hits = zones_hit(
        zones,
        detections(
            # Head above the band, feet on it: inside.
            ("person", 100, 20, 140, 200),
            # Body mostly over the band, but standing in front of it: outside.
            ("person", 300, 100, 400, 300),
            # Feet exactly on the band's lower edge: inside.
            ("person", 500, 50, 540, 216),
            # Feet just below it: outside.
            ("person", 500, 50, 540, 217),
        ),
    )
    assert hits == [frozenset({"pavement"}), frozenset(), frozenset({"pavement"}), frozenset()]


def test_foot_point_is_the_bottom_centre() -> None:
    # A narrow zone: x in 200..240, y in 300..360 of a 641x361 frame.
    zones = build_zones({"path": zone_cfg("0.3125,0.8333,0.375,0.8333,0.375,1,0.3125,1")}, 641, 361)
    centred = ("person", 150, 100, 290, 320)  # centre x 220, bottom 320
    off_centre = ("person", 200, 100, 400, 320)  # left edge over the path, centre x 300
    assert zones_hit(zones, detections(centred, off_centre)) == [frozenset({"path"}), frozenset()]


def test_zone_objects_filter() -> None:
    zones = build_zones(
        {
            "driveway": zone_cfg(LOWER_HALF, ["car", "truck"]),
            "garden": zone_cfg(LOWER_HALF),
        },
        640,
        360,
    )
    hits = zones_hit(
        zones,
        detections(
            ("person", 10, 100, 50, 300),
            ("car", 200, 150, 400, 300),
            ("cat", 500, 250, 540, 280),
        ),
    )
    assert hits == [
        frozenset({"garden"}),
        frozenset({"driveway", "garden"}),
        frozenset({"garden"}),
    ]


def test_overlapping_zones_are_all_reported() -> None:
    zones = build_zones(
        {"left": zone_cfg("0,0,0.6,0,0.6,1,0,1"), "right": zone_cfg("0.4,0,1,0,1,1,0.4,1")},
        640,
        360,
    )
    hits = zones_hit(
        zones,
        detections(
            ("dog", 0, 0, 100, 100),
            ("dog", 280, 0, 360, 100),
            ("dog", 540, 0, 640, 100),
        ),
    )
    assert hits == [frozenset({"left"}), frozenset({"left", "right"}), frozenset({"right"})]


def test_zones_hit_without_zones_or_detections() -> None:
    zones = build_zones({"lawn": zone_cfg(LOWER_HALF)}, 640, 360)
    assert zones_hit(zones, Detections.empty()) == []
    assert zones_hit([], detections(("person", 0, 0, 10, 10))) == [frozenset()]


@pytest.mark.parametrize(
    ("label", "expected"),
    [("person", {"porch"}), ("dog", set()), ("car", set())],
)
def test_person_only_zone(label: str, expected: set[str]) -> None:
    zones = build_zones({"porch": zone_cfg(LOWER_HALF, ["person"])}, 640, 360)
    assert zones_hit(zones, detections((label, 100, 100, 200, 300))) == [frozenset(expected)]
