"""Tests of config loading and validation: key paths in errors, polygons, roles, retention."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest

from hearthcam.config import (
    Config,
    DetectorConfig,
    ObjectsConfig,
    Polygon,
    RetentionConfig,
    load_config,
    parse_config,
)
from hearthcam.errors import ConfigError, HearthcamError
from hearthcam.types import Verdict


def camera(**extra: Any) -> dict[str, Any]:
    """A minimal valid camera mapping, with ``extra`` keys merged in."""
    return {"inputs": [{"path": "rtsp://cam/stream"}], **extra}


def problems_of(data: Any) -> list[str]:
    """The problems ConfigError reports for ``data`` (fails the test if it validates)."""
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def only_problem(data: Any) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults and basics ------------------------------------------------------------------


@pytest.mark.parametrize("data", [None, {}])
def test_empty_document_gives_defaults(data: Any) -> None:
    cfg = parse_config(data)
    assert cfg.cameras == {}
    assert cfg.alerts.mode == "away"
    assert cfg.database_url == f"sqlite:///{Path('hearthcam-data') / 'hearthcam.db'}"


def test_database_url_prefers_explicit_database() -> None:
    cfg = parse_config({"database": "postgresql://db/hc", "data_dir": "/srv/hc"})
    assert cfg.database_url == "postgresql://db/hc"
    assert cfg.data_dir == Path("/srv/hc")


def test_config_is_immutable() -> None:
    cfg = parse_config({"cameras": {"front": camera()}})
    with pytest.raises(pydantic.ValidationError):
        cfg.cameras["front"].detect.fps = 10  # type: ignore[misc]


def test_config_error_is_a_hearthcam_error_naming_source_and_problems() -> None:
    error = ConfigError("cfg.yml", ["a.b: unknown key", "c: bad"])
    assert isinstance(error, HearthcamError)
    assert error.source == "cfg.yml"
    assert str(error) == "cfg.yml: a.b: unknown key; c: bad"


def test_parse_config_names_the_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"bogus": 1}, source="/etc/hearthcam.yml")
    assert info.value.source == "/etc/hearthcam.yml"
    assert str(info.value).startswith("/etc/hearthcam.yml: ")


# --- unknown keys, at every depth -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"bogus": 1}, "bogus"),
        ({"detector": {"modle": "x"}}, "detector.modle"),
        ({"cameras": {"front": camera(bogus=1)}}, "cameras.front.bogus"),
        (
            {"cameras": {"front": {"inputs": [{"path": "x", "rolez": ["detect"]}]}}},
            "cameras.front.inputs[0].rolez",
        ),
        ({"cameras": {"front": camera(detect={"fsp": 5})}}, "cameras.front.detect.fsp"),
        ({"cameras": {"front": camera(motion={"treshold": 5})}}, "cameras.front.motion.treshold"),
        (
            {
                "cameras": {
                    "front": camera(
                        motion={"mask": [{"points": [[0, 0], [1, 0], [1, 1]], "invert": True}]}
                    )
                }
            },
            "cameras.front.motion.mask[0].invert",
        ),
        (
            {
                "cameras": {
                    "front": camera(zones={"porch": {"coordinates": "0,0,1,0,1,1", "inertia": 3}})
                }
            },
            "cameras.front.zones.porch.inertia",
        ),
        (
            {"cameras": {"front": camera(objects={"filters": {"person": {"threshold": 0.7}}})}},
            "cameras.front.objects.filters.person.threshold",
        ),
        ({"retention": {"days": 3}}, "retention.days"),
        ({"alerts": {"away": {"schedule": [{"from": "22:00"}]}}}, "alerts.away.schedule[0].from"),
    ],
)
def test_unknown_keys_are_rejected_with_their_path(data: dict[str, Any], path: str) -> None:
    assert only_problem(data) == f"{path}: unknown key"


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = problems_of(
        {
            "bogus": 1,
            "cameras": {"front": camera(detect={"fps": 0}, extra_key=2)},
            "alerts": {"mode": "vacation"},
        }
    )
    assert "bogus: unknown key" in problems
    assert "cameras.front.extra_key: unknown key" in problems
    assert any(p.startswith("cameras.front.detect.fps: ") for p in problems)
    assert any(p.startswith("alerts.mode: ") for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"cameras": {"front": camera(detect={"fps": 0})}}, "cameras.front.detect.fps"),
        ({"cameras": {"front": camera(detect={"width": 10})}}, "cameras.front.detect.width"),
        (
            {"cameras": {"front": camera(motion={"threshold": 300})}},
            "cameras.front.motion.threshold",
        ),
        (
            {"cameras": {"front": camera(objects={"filters": {"cat": {"min_score": 2}}})}},
            "cameras.front.objects.filters.cat.min_score",
        ),
        ({"cameras": {"front": {"inputs": []}}}, "cameras.front.inputs"),
        ({"cameras": {"front": {}}}, "cameras.front.inputs"),
        ({"events": {"end_after": -1}}, "events.end_after"),
        ({"alerts": {"cooldown": -5}}, "alerts.cooldown"),
        ({"alerts": {"away": {"verdicts": ["burglar"]}}}, "alerts.away.verdicts[0]"),
        (
            {"alerts": {"home": {"schedule": [{"days": ["monday"]}]}}},
            "alerts.home.schedule[0].days[0]",
        ),
    ],
)
def test_bad_values_name_their_key_path(data: dict[str, Any], path: str) -> None:
    assert only_problem(data).startswith(f"{path}: ")


@pytest.mark.parametrize("gap", [0, -1, 0.1, 121, "soon"])
def test_a_bad_event_gap_names_its_key_globally_and_per_camera(gap: object) -> None:
    shown = only_problem({"events": {"gap": gap}})
    assert shown.startswith("events.gap: "), shown
    on_camera = only_problem({"cameras": {"front": camera(events={"gap": gap})}})
    assert on_camera.startswith("cameras.front.events.gap: "), on_camera
    if not isinstance(gap, str):
        assert "seconds without a tracked object that end an event" in shown


def test_a_camera_gap_overrides_the_global_one_and_keeps_the_rest() -> None:
    cfg = parse_config(
        {
            "events": {"gap": 4, "end_after": 6},
            "cameras": {"front": camera(events={"gap": 1.5}), "back": camera()},
        }
    )
    assert parse_config({}).events.gap == 2.5
    front = cfg.cameras["front"].events_over(cfg.events)
    assert (front.gap, front.end_after) == (1.5, 6)
    assert cfg.cameras["back"].events_over(cfg.events) == cfg.events
    assert only_problem({"cameras": {"front": camera(events={"end_after": 3})}}) == (
        "cameras.front.events.end_after: unknown key"
    )


def test_non_mapping_document_is_rejected() -> None:
    assert problems_of([1, 2]) == ["(top level): expected a mapping of keys"]
    assert problems_of("cameras") == ["(top level): expected a mapping of keys"]


def test_non_mapping_camera_is_rejected_at_its_path() -> None:
    assert only_problem({"cameras": {"front": "rtsp://x"}}).startswith("cameras.front: ")


# --- polygons -----------------------------------------------------------------------------


def mask_cfg(*polygons: Any) -> Config:
    return parse_config({"cameras": {"front": camera(motion={"mask": list(polygons)})}})


def test_polygon_from_frigate_string() -> None:
    cfg = mask_cfg("0.1,0.2,0.9,0.2,0.9,0.8,0.1,0.8")
    assert cfg.cameras["front"].motion.mask[0].points == [
        (0.1, 0.2),
        (0.9, 0.2),
        (0.9, 0.8),
        (0.1, 0.8),
    ]


def test_polygon_string_tolerates_spaces() -> None:
    cfg = mask_cfg(" 0, 0.5 , 1,0.5  1 1 ")
    assert cfg.cameras["front"].motion.mask[0].points == [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0)]


def test_polygon_from_list_of_pairs_equals_string_form() -> None:
    from_pairs = mask_cfg([[0, 0], [0.5, 0], [0.5, 1]])
    from_string = mask_cfg("0,0,0.5,0,0.5,1")
    assert from_pairs.cameras["front"].motion.mask == from_string.cameras["front"].motion.mask
    assert from_pairs.cameras["front"].motion.mask[0].points == [(0, 0), (0.5, 0), (0.5, 1)]


def test_polygon_accepts_explicit_points_mapping() -> None:
    cfg = mask_cfg({"points": [[0, 0], [1, 0], [1, 1]]})
    assert cfg.cameras["front"].motion.mask[0] == Polygon(points=[(0, 0), (1, 0), (1, 1)])


def test_several_masks_keep_their_order() -> None:
    cfg = mask_cfg("0,0,0.2,0,0.2,0.2", [[0.8, 0.8], [1, 0.8], [1, 1]])
    masks = cfg.cameras["front"].motion.mask
    assert [m.points[0] for m in masks] == [(0.0, 0.0), (0.8, 0.8)]


@pytest.mark.parametrize(
    "polygon",
    ["0,0,1,0", [[0, 0], [1, 1]], "", []],
)
def test_polygon_needs_three_points(polygon: Any) -> None:
    problem = only_problem(
        {"cameras": {"front": camera(motion={"mask": ["0,0,1,0,1,1", polygon]})}}
    )
    assert problem.startswith("cameras.front.motion.mask[1]")
    assert "at least 3 points" in problem


@pytest.mark.parametrize(
    "polygon",
    ["0,0,1.5,0,1,1", "0,0,1,0,1,-0.1", [[0, 0], [640, 0], [640, 360]]],
)
def test_polygon_coordinates_must_be_relative(polygon: Any) -> None:
    problem = only_problem({"cameras": {"front": camera(motion={"mask": [polygon]})}})
    assert problem.startswith("cameras.front.motion.mask[0]")
    assert "relative" in problem


def test_polygon_string_with_odd_number_of_coordinates() -> None:
    problem = only_problem({"cameras": {"front": camera(motion={"mask": ["0,0,1,0,1"]})}})
    assert problem.startswith("cameras.front.motion.mask[0]")
    assert "even number" in problem


def test_polygon_string_with_non_numbers() -> None:
    problem = only_problem({"cameras": {"front": camera(motion={"mask": ["0,0,one,0,1,1"]})}})
    assert problem.startswith("cameras.front.motion.mask[0]")


def test_polygon_edges_of_the_frame_are_allowed() -> None:
    cfg = mask_cfg("0,0,1,0,1,1,0,1")
    assert cfg.cameras["front"].motion.mask[0].points[2] == (1.0, 1.0)


def test_zone_polygon_errors_name_the_zone() -> None:
    problem = only_problem(
        {"cameras": {"front": camera(zones={"driveway": {"coordinates": "0,0,2,0,1,1"}})}}
    )
    assert problem.startswith("cameras.front.zones.driveway.coordinates")


def test_zone_parses_coordinates_and_objects() -> None:
    cfg = parse_config(
        {
            "cameras": {
                "front": camera(
                    zones={"porch": {"coordinates": "0,0.5,1,0.5,1,1,0,1", "objects": ["person"]}}
                )
            }
        }
    )
    zone = cfg.cameras["front"].zones["porch"]
    assert zone.coordinates.points[0] == (0.0, 0.5)
    assert zone.objects == ["person"]


# --- inputs and roles ---------------------------------------------------------------------


def test_single_input_gets_both_roles_by_default() -> None:
    cfg = parse_config({"cameras": {"front": camera()}})
    assert sorted(cfg.cameras["front"].inputs[0].roles) == ["detect", "record"]


def test_separate_record_and_detect_inputs() -> None:
    cfg = parse_config(
        {
            "cameras": {
                "front": {
                    "inputs": [
                        {"path": "rtsp://cam/main", "roles": ["record"]},
                        {"path": "rtsp://cam/sub", "roles": ["detect"]},
                    ]
                }
            }
        }
    )
    assert [i.roles for i in cfg.cameras["front"].inputs] == [["record"], ["detect"]]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            [{"path": "a", "roles": ["detect"]}, {"path": "b", "roles": ["detect"]}],
            "only one input may have the role 'detect'",
        ),
        (
            [{"path": "a", "roles": ["record", "detect"]}, {"path": "b", "roles": ["record"]}],
            "only one input may have the role 'record'",
        ),
        ([{"path": "a"}, {"path": "b"}], "only one input may have the role"),
        ([{"path": "a", "roles": ["record"]}], "one input needs the role 'detect'"),
    ],
)
def test_role_rules(inputs: list[dict[str, Any]], message: str) -> None:
    problem = only_problem({"cameras": {"garage": {"inputs": inputs}}})
    assert problem.startswith("cameras.garage: ")
    assert message in problem


def test_input_needs_a_role_and_a_known_one() -> None:
    empty = only_problem({"cameras": {"front": {"inputs": [{"path": "a", "roles": []}]}}})
    assert empty.startswith("cameras.front.inputs[0].roles: ")
    unknown = only_problem({"cameras": {"front": {"inputs": [{"path": "a", "roles": ["rec"]}]}}})
    assert unknown.startswith("cameras.front.inputs[0].roles[0]: ")


def test_input_needs_a_path() -> None:
    problem = only_problem({"cameras": {"front": {"inputs": [{"roles": ["detect"]}]}}})
    assert problem.startswith("cameras.front.inputs[0].path: ")


# --- camera names and objects -------------------------------------------------------------


@pytest.mark.parametrize("name", ["front", "back_yard", "Garage-2", "c", "x" * 64])
def test_valid_camera_names(name: str) -> None:
    assert name in parse_config({"cameras": {name: camera()}}).cameras


@pytest.mark.parametrize("name", ["front door", "", "a/b", "café", "x" * 65, "../etc"])
def test_invalid_camera_names(name: str) -> None:
    problem = only_problem({"cameras": {"ok": camera(), name: camera()}})
    assert problem.startswith("cameras: ")
    assert repr(name) in problem


def test_unknown_object_label_rejected() -> None:
    problem = only_problem({"objects": {"track": ["person", "unicorn"]}})
    assert problem.startswith("objects.track: ")
    assert "unicorn" in problem


def test_objects_or_prefers_camera_override() -> None:
    cfg = parse_config(
        {
            "objects": {"track": ["person", "car"]},
            "cameras": {"front": camera(objects={"track": ["cat"]}), "back": camera()},
        }
    )
    assert cfg.cameras["front"].objects_or(cfg.objects).track == ["cat"]
    assert cfg.cameras["back"].objects_or(cfg.objects).track == ["person", "car"]
    assert ObjectsConfig().track[0] == "person"


# --- retention, record, alerts ------------------------------------------------------------


def test_retention_defaults_every_verdict() -> None:
    assert RetentionConfig().events == {v: 24.0 for v in Verdict}


def test_retention_fills_missing_verdicts() -> None:
    cfg = parse_config({"retention": {"events": {"threat": 72, "motion": 2}}})
    assert cfg.retention.events == {
        Verdict.THREAT: 72.0,
        Verdict.MOTION: 2.0,
        Verdict.PET: 24.0,
        Verdict.VEHICLE: 24.0,
        Verdict.FAMILIAR: 24.0,
    }


def test_retention_rejects_unknown_verdict_and_non_positive_hours() -> None:
    unknown = only_problem({"retention": {"events": {"burglar": 5}}})
    assert unknown.startswith("retention.events.burglar")
    zero = only_problem({"retention": {"events": {"pet": 0}}})
    assert zero.startswith("retention.events.pet: ")


@pytest.mark.parametrize("hours", [5e-324, 0.5, 24 * 365 + 1, 1e308])
def test_retention_hours_are_bounded(hours: float) -> None:
    # A fuzzer's 5e-324 h passed "> 0" and would have emptied a household at the next sweep.
    assert only_problem({"retention": {"events": {"pet": hours}}}).startswith(
        "retention.events.pet: "
    )
    assert only_problem({"retention": {"segments": hours}}).startswith("retention.segments: ")


def test_retention_bounds_are_inclusive() -> None:
    cfg = parse_config({"retention": {"events": {"pet": 1, "threat": 24 * 365}}})
    assert cfg.retention.events[Verdict.PET] == 1.0


def test_web_hosts_and_proxies() -> None:
    web = {
        "allowed_hosts": ["cams.home.arpa", "*.lan"],
        "trusted_proxies": ["10.0.0.2", "fd00::/8"],
    }
    cfg = parse_config({"web": web})
    assert cfg.web.allowed_hosts == ("cams.home.arpa", "*.lan")
    assert parse_config({}).web.trusted_proxies == ()  # nobody's X-Forwarded-For by default
    bad_host = only_problem({"web": {"allowed_hosts": ["evil.example/x"]}})
    assert bad_host.startswith("web.allowed_hosts[0]")
    bad_proxy = only_problem({"web": {"trusted_proxies": ["proxy.lan"]}})
    assert bad_proxy.startswith("web.trusted_proxies")


def test_record_min_clip_must_not_exceed_max_clip() -> None:
    problem = only_problem({"record": {"min_clip": 40, "max_clip": 30}})
    assert problem.startswith("record: ")
    assert "min_clip" in problem


@pytest.mark.parametrize("value", ["00:00", "06:30", "23:59", "24:00"])
def test_schedule_accepts_times(value: str) -> None:
    cfg = parse_config({"alerts": {"away": {"schedule": [{"start": value}]}}})
    assert cfg.alerts.away.schedule[0].start == value


@pytest.mark.parametrize("value", ["24:01", "25:00", "7:00", "12:60", "noon", "12:00:00"])
def test_schedule_rejects_bad_times(value: str) -> None:
    problem = only_problem({"alerts": {"home": {"schedule": [{"end": value}]}}})
    assert problem.startswith("alerts.home.schedule[0].end: ")


# --- load_config --------------------------------------------------------------------------


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert info.value.problems[0].startswith("(file): cannot read")


def test_load_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("data_dir: /srv\ncameras: front: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("line 2, column 15: not valid YAML")


def test_load_non_mapping_yaml(tmp_path: Path) -> None:
    path = tmp_path / "list.yml"
    path.write_text("- front\n- back\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["(top level): expected a mapping of keys"]


def test_load_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_config(path) == Config()


def test_load_reports_key_paths_with_the_file_as_source(tmp_path: Path) -> None:
    path = tmp_path / "typo.yml"
    path.write_text("cameras:\n  front:\n    inputs:\n      - path: x\n    zonez: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["cameras.front.zonez: unknown key"]
    assert str(path) in str(info.value)


FULL_CONFIG = textwrap.dedent(
    """\
    data_dir: /var/lib/hearthcam
    detector:
      model: nanodet-m-416
      threads: 2
    objects:
      track: [person, cat, dog, car]
      min_score: 0.55
      filters:
        person: {min_score: 0.6, min_area: 0.002}
        car: {min_score: 0.7}
    record:
      pre_roll: 3
      post_roll: 4
    events:
      end_after: 5
      max_seconds: 120
    retention:
      events:
        threat: 168
        vehicle: 48
      segments: 2
    alerts:
      mode: home
      cooldown: 120
      home:
        verdicts: [threat]
        zones: [porch]
        schedule:
          - days: [mon, tue, wed, thu, fri]
            start: "22:00"
            end: "06:00"
          - days: [sat, sun]
      away:
        verdicts: [threat, vehicle]
    cameras:
      front_door:
        inputs:
          - path: rtsp://user:pass@192.168.1.10:554/main
            roles: [record]
          - path: rtsp://user:pass@192.168.1.10:554/sub
            roles: [detect]
        detect: {width: 640, height: 360, fps: 5}
        motion:
          threshold: 30
          mask:
            - 0,0,0.3,0,0.3,0.1,0,0.1
            - [[0.9, 0.9], [1, 0.9], [1, 1], [0.9, 1]]
        zones:
          porch:
            coordinates: 0.2,0.6,0.8,0.6,0.8,1,0.2,1
            objects: [person]
          street:
            coordinates: [[0, 0.3], [1, 0.3], [1, 0.5], [0, 0.5]]
        objects:
          track: [person, car]
          filters:
            car: {min_area: 0.01}
      garden:
        inputs:
          - path: /dev/video0
        motion:
          mask: ["0.5,0,1,0,1,0.2"]
    """
)


def test_realistic_full_config_validates(tmp_path: Path) -> None:
    path = tmp_path / "hearthcam.yml"
    path.write_text(FULL_CONFIG, encoding="utf-8")
    cfg = load_config(path)

    assert set(cfg.cameras) == {"front_door", "garden"}
    front = cfg.cameras["front_door"]
    assert [(i.path.rsplit("/", 1)[-1], i.roles) for i in front.inputs] == [
        ("main", ["record"]),
        ("sub", ["detect"]),
    ]
    assert front.motion.threshold == 30
    assert len(front.motion.mask) == 2
    assert front.motion.mask[1].points[0] == (0.9, 0.9)
    assert front.zones["porch"].objects == ["person"]
    assert front.zones["street"].coordinates.points[1] == (1.0, 0.3)
    assert cfg.cameras["front_door"].objects_or(cfg.objects).filters["car"].min_area == 0.01
    assert cfg.cameras["garden"].objects_or(cfg.objects).filters["person"].min_score == 0.6

    garden = cfg.cameras["garden"]
    assert sorted(garden.inputs[0].roles) == ["detect", "record"]
    assert garden.motion.mask[0].points == [(0.5, 0.0), (1.0, 0.0), (1.0, 0.2)]

    assert cfg.retention.events[Verdict.THREAT] == 168
    assert cfg.retention.events[Verdict.PET] == 24
    assert cfg.alerts.mode == "home"
    assert cfg.alerts.home.schedule[0].start == "22:00"
    assert cfg.alerts.home.schedule[1].days == ["sat", "sun"]
    assert cfg.alerts.away.verdicts == [Verdict.THREAT, Verdict.VEHICLE]
    assert cfg.events.max_seconds == 120


# --- the file itself: encoding, duplicate keys, empty (issue 14, item 13) ---------------------


def test_non_utf8_file_is_one_problem_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("data_dir: /srv/caméra\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert info.value.problems == [
        "(file): not UTF-8 text at byte 18"
    ]  # offset from 0, as hexdump shows it


def test_a_camera_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yml"
    path.write_text(
        "cameras:\n"
        "  front:\n"
        "    inputs: [{path: rtsp://cam/a}]\n"
        "  front:\n"
        "    inputs: [{path: rtsp://cam/b}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["line 4: duplicate key 'front' (first at line 2)"]


def test_any_duplicate_key_is_refused_even_in_a_flow_mapping(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("events: {end_after: 3, end_after: 9}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["line 1: duplicate key 'end_after' (first at line 1)"]


def test_merge_keys_may_still_override(tmp_path: Path) -> None:
    path = tmp_path / "merge.yml"
    path.write_text(
        "x-base: &base {end_after: 3, max_seconds: 60}\nevents: {<<: *base, end_after: 9}\n"
    )
    with pytest.raises(ConfigError) as info:  # x-base is not a key of ours...
        load_config(path)
    assert info.value.problems == ["x-base: unknown key"]  # ...but the merge itself is fine


def test_an_empty_or_comment_only_file_is_every_default(tmp_path: Path) -> None:
    for text in ("", "# nothing yet\n"):
        path = tmp_path / "empty.yml"
        path.write_text(text)
        assert load_config(path) == Config()


# --- alert URLs and the detector model (issue 14, item 13) ------------------------------------


@pytest.mark.parametrize(
    ("alerts", "where"),
    [
        ({"webhooks": [{"url": "file:///etc/passwd", "secret": "s" * 16}]}, "webhooks[0].url"),
        ({"webhooks": [{"url": "/var/run/hook", "secret": "s" * 16}]}, "webhooks[0].url"),
        ({"ntfy": {"url": "gopher://ntfy.example.org", "topic": "t"}}, "ntfy.url"),
        ({"ntfy": {"url": "https://", "topic": "t"}}, "ntfy.url"),
        ({"base_url": "javascript:alert(1)"}, "base_url"),
    ],
)
def test_alert_urls_must_be_http_or_https(alerts: dict[str, Any], where: str) -> None:
    problem = only_problem({"alerts": alerts})
    assert problem.startswith(f"alerts.{where}: expected an http:// or https:// URL"), problem


def test_http_and_https_alert_urls_pass() -> None:
    cfg = parse_config(
        {
            "alerts": {
                "webhooks": [{"url": "http://10.0.0.2:8123/hook", "secret": "s" * 16}],
                "ntfy": {"url": "HTTPS://ntfy.example.org", "topic": "t"},
            }
        }
    )
    assert cfg.alerts.webhooks[0].url == "http://10.0.0.2:8123/hook"


@pytest.mark.parametrize("host", ["mqtt://broker", "broker/x", "", "two words"])
def test_mqtt_host_is_a_host_not_a_url(host: str) -> None:
    problem = only_problem({"alerts": {"mqtt": {"host": host}}})
    assert problem.startswith("alerts.mqtt.host: expected a host name or address"), problem


@pytest.mark.parametrize("host", ["broker.lan", "10.0.0.5", "::1", "localhost"])
def test_mqtt_host_names_and_addresses_pass(host: str) -> None:
    assert parse_config({"alerts": {"mqtt": {"host": host}}}).alerts.mqtt.host == host


def test_detector_model_must_be_built_in_or_an_onnx_file(tmp_path: Path) -> None:
    problem = only_problem({"detector": {"model": "/etc/passwd"}})
    assert problem.startswith(
        "detector.model: expected a built-in name (nanodet-m-416, mb3-centernet-512)"
    ), problem
    problem = only_problem({"detector": {"model": str(tmp_path / "absent.onnx")}})
    assert problem.startswith(f"detector.model: {tmp_path / 'absent.onnx'}: no such file")
    (tmp_path / "dir.onnx").mkdir()
    problem = only_problem({"detector": {"model": str(tmp_path / "dir.onnx")}})
    assert "not a regular file" in problem
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"\x08\x07")
    assert parse_config({"detector": {"model": str(model)}}).detector.model == str(model)


def test_a_builtin_detector_name_sets_its_kind() -> None:
    assert DetectorConfig().kind == "nanodet"
    assert parse_config({"detector": {"model": "mb3-centernet-512"}}).detector.kind == "centernet"
    chosen = {"model": "mb3-centernet-512", "kind": "centernet"}
    assert parse_config({"detector": chosen}).detector.kind == "centernet"


def test_a_kind_that_contradicts_the_builtin_model_names_the_key() -> None:
    problem = only_problem({"detector": {"model": "mb3-centernet-512", "kind": "nanodet"}})
    assert problem == (
        "detector.kind: mb3-centernet-512 is a centernet model: leave kind unset or set it to "
        "'centernet'"
    ), problem
    problem = only_problem({"detector": {"kind": "yolo"}})
    assert problem.startswith("detector.kind: Input should be 'nanodet' or 'centernet'"), problem


def test_a_model_path_takes_its_kind_and_defaults_to_nanodet(tmp_path: Path) -> None:
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"\x08\x07")
    assert parse_config({"detector": {"model": str(model)}}).detector.kind == "nanodet"
    chosen = parse_config({"detector": {"model": str(model), "kind": "centernet"}}).detector
    assert chosen.kind == "centernet"
    assert chosen.input_size is None  # the model's own input size, read when it is loaded


def test_builtin_detector_names_match_the_packaged_models() -> None:
    from hearthcam.config import BUILTIN_DETECTORS
    from hearthcam.pipeline.detect import BUILTIN_MODELS

    assert set(BUILTIN_DETECTORS) == set(BUILTIN_MODELS)


def test_a_fifo_or_a_device_is_not_read_as_a_config(tmp_path: Path) -> None:
    fifo = tmp_path / "hearthcam.yml"
    os.mkfifo(fifo)  # nobody writes: reading it would block for ever
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.problems == ["(file): not a regular file"]


def test_a_huge_file_is_not_read_as_a_config(tmp_path: Path) -> None:
    path = tmp_path / "video.yml"
    path.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["(file): over 1048576 bytes: not a config"]


@pytest.mark.parametrize("hours", [-1, "daily", 24 * 366])
def test_a_bad_checkpoint_interval_names_its_key(hours: object) -> None:
    problem = only_problem({"audit": {"checkpoint_every_hours": hours}})
    assert problem.startswith("audit.checkpoint_every_hours: ")


def test_checkpoints_are_sent_daily_unless_turned_off() -> None:
    assert Config().audit.checkpoint_every_hours == 24.0
    assert parse_config({"audit": {"checkpoint_every_hours": 0}}).audit.checkpoint_every_hours == 0


PG = "postgresql+psycopg://hearthcam@db.example/hearthcam"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"cluster": {"engine": "ray", "address": "h:6379"}}, "database: postgresql+psycopg"),
        ({"database": PG, "cluster": {"engine": "ray"}}, "cluster: engine ray needs address"),
        ({"cluster": {"cameras": True}}, "cluster: cameras: true runs cameras on a Ray cluster"),
        ({"database": PG, "cluster": {"engine": "ray", "address": "h:1", "camera_cpus": 0}},
         "cluster.camera_cpus: Input should be greater than 0"),
    ],
)  # fmt: skip
def test_a_cluster_config_that_cannot_work_is_refused_naming_its_key(
    data: dict[str, Any], says: str
) -> None:
    assert says in only_problem(data)


def test_cameras_on_a_cluster_are_off_unless_asked_for() -> None:
    config = parse_config({"database": PG, "cluster": {"engine": "ray", "address": "h:1"}})
    assert config.cluster.cameras is False  # the share checks only, cameras in this process
    assert config.cluster.camera_cpus == 0.25
