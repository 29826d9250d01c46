"""Cameras owners add or edit in the app, merged over the config's."""

from __future__ import annotations

from hearthcam.alerts.text import DisplayNames
from hearthcam.config import InputConfig, parse_config
from hearthcam.store.cameras import CameraEntry, CameraStore, new_camera_key
from hearthcam.store.db import Store
from hearthcam.store.settings import SettingsStore

CONFIG = parse_config(
    {
        "cameras": {
            "front": {
                "inputs": [{"path": "rtsp://cam/main"}],
                "detect": {"fps": 3},
                "zones": {"porch": {"coordinates": "0,0,1,0,1,1"}},
            }
        }
    }
)


def test_an_edit_keeps_the_configs_other_settings_and_new_cameras_get_defaults() -> None:
    stored = {
        "front": CameraEntry("Front", "rtsp://cam/main", "rtsp://cam/sub"),
        "cam-0a0b0c0d": CameraEntry("Shed", None, "rtsp://shed/s", enabled=False),
    }
    front = stored["front"].applied(CONFIG.cameras["front"])
    assert front.name == "Front"
    assert front.inputs == [
        InputConfig(path="rtsp://cam/main", roles=["record"]),
        InputConfig(path="rtsp://cam/sub", roles=["detect"]),
    ]
    assert front.detect.fps == 3
    assert list(front.zones) == ["porch"]
    shed = stored["cam-0a0b0c0d"].applied(None)
    assert shed.enabled is False
    assert shed.inputs == [InputConfig(path="rtsp://shed/s")]
    assert CONFIG.cameras["front"].name is None  # the config itself is untouched


def test_a_camera_the_config_does_not_record_stays_unrecorded_when_renamed() -> None:
    config = parse_config(
        {"cameras": {"yard": {"inputs": [{"path": "rtsp://yard/sub", "roles": ["detect"]}]}}}
    )
    renamed = CameraEntry("Yard", None, "rtsp://yard/sub").applied(config.cameras["yard"])
    assert renamed.inputs == [InputConfig(path="rtsp://yard/sub", roles=["detect"])]
    with_main = CameraEntry("Yard", "rtsp://yard/main", "rtsp://yard/sub")
    assert [i.roles for i in with_main.applied(config.cameras["yard"]).inputs] == [
        ["record"],
        ["detect"],
    ]


def test_entries_are_stored_listed_and_removed(database_url: str) -> None:
    with Store.open(database_url) as store:
        cameras = CameraStore(SettingsStore(store))
        key = new_camera_key()
        assert key.startswith("cam-")
        assert len(key) == 12
        cameras.save(key, CameraEntry("Shed", None, "rtsp://shed/s"), 1.0)
        cameras.save(key, CameraEntry("Shed 2", None, "rtsp://shed/s"), 2.0)
        cameras.save("front", CameraEntry("Front", None, "rtsp://cam/x"), 3.0)
        assert cameras.keys() == [key, "front"]
        assert cameras.entries()[key].name == "Shed 2"
        cameras.remove(key, 4.0)
        assert cameras.keys() == ["front"]
        assert cameras.get(key) is None


def test_stored_values_of_another_shape_are_not_entries() -> None:
    assert CameraEntry.from_json({"name": "x", "detect_url": ""}) is None
    assert CameraEntry.from_json({"name": 3, "detect_url": "rtsp://a/b"}) is None
    assert CameraEntry.from_json({"name": "x", "detect_url": "rtsp://a/b", "record_url": 1}) is None
    assert CameraEntry.from_json(["not", "a", "dict"]) is None
    assert CameraEntry.from_json({"name": "x", "detect_url": "rtsp://a/b"}) == CameraEntry(
        "x", None, "rtsp://a/b"
    )


def test_display_names_follow_cameras_added_while_running() -> None:
    cameras = dict(CONFIG.cameras)
    names = DisplayNames(cameras)
    assert names["front"] == "Front"
    cameras["cam-0a0b0c0d"] = CameraEntry("Shed", None, "rtsp://s/s").applied(None)
    assert names["cam-0a0b0c0d"] == "Shed"
    assert "nosuch" not in names
