"""The camera registry: config cameras and app cameras resolve the same way, and every change
reaches its listeners. Pure (no store) except where it loads what the app stored."""

from __future__ import annotations

from typing import Any

from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import CameraConfig, InputConfig, Polygon, ZoneConfig, parse_config
from hearthcam.store.cameras import CameraEntry, CameraStore
from hearthcam.store.db import Store
from hearthcam.store.settings import CameraGeometry, SettingsStore, save_camera_geometry
from tests.support.cameras import ToldCameras

URL = "rtsp://10.0.0.2/sub"
OBJECTS = {"track": ["person", "cat"], "filters": {"person": {"min_score": 0.6}}}
DRAWN = CameraGeometry(
    mask=[Polygon.model_validate("0,0,1,0,1,0.1,0,0.1")],
    zones={"path": ZoneConfig(coordinates=Polygon.model_validate("0,0.5,1,0.5,1,1,0,1"))},
)


def config(**cameras: dict[str, Any]) -> Any:
    return parse_config({"objects": OBJECTS, "cameras": cameras})


def test_an_app_camera_resolves_as_a_config_camera_on_the_same_stream() -> None:
    from_file = CameraRegistry(config(front={"name": "Front", "inputs": [{"path": URL}]}))
    from_app = CameraRegistry(config(), {"cam-0000abcd": CameraEntry("Front", None, URL)})
    assert from_app["cam-0000abcd"] == from_file["front"]
    camera = from_app["cam-0000abcd"]
    # Everything a pipeline reads is spelled out: nobody falls back on the config by name.
    assert camera.objects is not None
    assert camera.objects.track == ["person", "cat"]
    assert camera.objects.filters["person"].min_score == 0.6
    assert camera.detect == from_file["front"].detect
    assert camera.inputs == [InputConfig(path=URL)]
    assert camera.enabled


def test_a_cameras_own_objects_win_over_the_configs() -> None:
    own = {"track": ["car"]}
    registry = CameraRegistry(config(drive={"inputs": [{"path": URL}], "objects": own}))
    objects = registry["drive"].objects
    assert objects is not None
    assert objects.track == ["car"]


def test_an_entry_over_a_config_camera_keeps_its_detection_and_zones() -> None:
    base = config(
        yard={
            "inputs": [{"path": "rtsp://old/sub"}],
            "detect": {"fps": 2},
            "zones": {"lawn": {"coordinates": "0,0,1,0,1,1"}},
        }
    )
    registry = CameraRegistry(base, {"yard": CameraEntry("Yard", None, URL, enabled=False)})
    yard = registry["yard"]
    assert (yard.name, yard.inputs, yard.enabled) == ("Yard", [InputConfig(path=URL)], False)
    assert yard.detect.fps == 2
    assert list(yard.zones) == ["lawn"]
    assert registry.from_config("yard")


def test_masks_and_zones_drawn_in_the_app_apply_whatever_the_origin() -> None:
    registry = CameraRegistry(
        config(front={"inputs": [{"path": URL}]}),
        {"cam-1": CameraEntry("Shed", None, URL)},
        {"front": DRAWN, "cam-1": DRAWN},
    )
    for name in ("front", "cam-1"):
        assert registry[name].motion.mask == DRAWN.mask
        assert registry[name].zones == DRAWN.zones
        assert registry.geometry(name) == DRAWN
    assert not registry.from_config("cam-1")


def test_adding_editing_and_removing_tell_the_listeners_about_that_camera_only() -> None:
    registry = CameraRegistry(config(front={"inputs": [{"path": URL}]}))
    told = ToldCameras()
    registry.subscribe(told)
    front = registry["front"]

    added = registry.put("cam-1", CameraEntry("Shed", None, "rtsp://10.0.0.3/s"))
    assert told.cameras == [("cam-1", added)]
    assert set(registry) == {"front", "cam-1"}
    assert registry["front"] == front

    drawn = registry.draw("cam-1", DRAWN)
    assert drawn is not None
    assert told.geometries == [("cam-1", drawn)]
    assert registry["cam-1"].zones == DRAWN.zones
    # Editing the streams later keeps what was drawn.
    moved = registry.put("cam-1", CameraEntry("Shed", None, "rtsp://10.0.0.4/s"))
    assert moved.zones == DRAWN.zones
    assert moved.inputs == [InputConfig(path="rtsp://10.0.0.4/s")]

    registry.remove("cam-1")
    assert told.cameras[-1] == ("cam-1", None)
    assert set(registry) == {"front"}
    assert registry.geometry("cam-1") == CameraGeometry([], {})


def test_removing_what_the_app_set_for_a_config_camera_brings_back_the_config() -> None:
    registry = CameraRegistry(
        config(front={"inputs": [{"path": URL}]}),
        {"front": CameraEntry("Porch", None, URL, enabled=False)},
    )
    told = ToldCameras()
    registry.subscribe(told)
    assert not registry["front"].enabled
    registry.remove("front")
    [(name, camera)] = told.cameras
    assert name == "front"
    assert camera is not None
    assert camera.enabled
    assert camera.name is None


def test_drawing_for_a_camera_it_does_not_run_tells_nobody() -> None:
    registry = CameraRegistry(config())
    told = ToldCameras()
    registry.subscribe(told)
    assert registry.draw("gone", DRAWN) is None
    assert told.geometries == []
    assert registry.geometry("gone") == DRAWN  # what the page shows when it comes back


def test_a_reader_iterating_the_cameras_is_not_disturbed_by_a_change() -> None:
    registry = CameraRegistry(config(a={"inputs": [{"path": URL}]}, b={"inputs": [{"path": URL}]}))
    seen = []
    for name in registry:
        registry.put(f"cam-{name}", CameraEntry(name, None, URL))
        seen.append(name)
    assert seen == ["a", "b"]
    assert len(registry) == 4


def test_load_reads_the_apps_entries_and_drawings(store: Store) -> None:
    settings = SettingsStore(store)
    CameraStore(settings).save("cam-1", CameraEntry("Shed", None, URL), 1.0)
    save_camera_geometry(settings, "front", DRAWN, 1.0)
    registry = CameraRegistry.load(config(front={"inputs": [{"path": URL}]}), settings)
    assert set(registry) == {"front", "cam-1"}
    assert registry["cam-1"].name == "Shed"
    assert registry["front"].zones == DRAWN.zones
    assert isinstance(registry["front"], CameraConfig)
