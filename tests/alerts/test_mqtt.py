"""Tests of the MQTT channel against a real mosquitto on loopback, watched by a paho subscriber.

Discovery configs and availability are retained (a late subscriber still gets them), binary
sensors follow an event's lifecycle, the events topic carries Home Assistant's ``event_type``,
the snapshot is the JPEG itself, the last will says offline, a restarted broker is refilled, and
a household's view log checkpoint is retained on its own topic.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hearthcam.alerts.checkpoints import notice
from hearthcam.alerts.mqtt import MqttNotifier, discovery_messages
from hearthcam.alerts.notify import AlertDispatcher
from hearthcam.alerts.text import AlertFormatter, CheckpointNotice, JsonValue
from hearthcam.config import MqttConfig
from hearthcam.store.db import Store
from hearthcam.types import Change, Event, Verdict
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, checkpoint_json, key_path, parse_saved
from hearthcam_bench.broker import Mosquitto, mosquitto_available
from tests.support.required import require
from tests.viewlog.test_log import T0, filled_log

CAMERAS = {"front_door": "Front door"}
BASE_URL = "http://127.0.0.1:8971"
DISCOVERY = [
    *(f"homeassistant/binary_sensor/hearthcam_front_door_{v.value}/config" for v in Verdict),
    "homeassistant/image/hearthcam_front_door_snapshot/config",
    "homeassistant/event/hearthcam_front_door/config",
]

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """A paho client recording every message on ``#``; resubscribes after reconnecting."""

    def __init__(self, port: int) -> None:
        self.messages: list[Received] = []
        self._changed = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{time.time_ns()}")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 1)
        self._client.connect_async("127.0.0.1", port, keepalive=10)
        self._client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        client.subscribe("#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append(
                Received(message.topic, bytes(message.payload), bool(message.retain))
            )
            self._changed.notify_all()

    def on(self, topic: str) -> list[Received]:
        """Messages received on one topic, in order."""
        with self._changed:
            return [m for m in self.messages if m.topic == topic]

    def wait(self, check: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Waits until ``check`` is true (evaluated whenever a message arrives)."""
        with self._changed:
            return self._changed.wait_for(check, timeout)

    def wait_payloads(self, topic: str, payloads: list[bytes], timeout: float = 10.0) -> bool:
        """Waits until the topic's payloads end with ``payloads``."""
        return self.wait(lambda: [m.payload for m in self.on(topic)][-len(payloads) :] == payloads)

    def publish(self, topic: str, payload: str) -> None:
        """Publishes as another MQTT client would (Home Assistant's birth message)."""
        self._client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        """Disconnects."""
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto on a free loopback port."""
    require(mosquitto_available(), "mosquitto is not installed (scripts/setup.sh installs it)")
    server = Mosquitto(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def subscribers(broker: Mosquitto) -> Iterator[Callable[[], Subscriber]]:
    """Returns ``connect() -> Subscriber``; every subscriber is closed afterwards."""
    made: list[Subscriber] = []

    def connect() -> Subscriber:
        made.append(Subscriber(broker.port))
        return made[-1]

    yield connect
    for subscriber in made:
        subscriber.close()


@pytest.fixture
def notifier(broker: Mosquitto) -> Iterator[MqttNotifier]:
    """A connected MqttNotifier for the camera ``front_door``."""
    channel = MqttNotifier(config(broker.port), CAMERAS, base_url=BASE_URL, reconnect=(1, 1))
    assert channel.wait_connected(5)
    yield channel
    channel.close()


def config(port: int, client_id: str = "hearthcam-test") -> MqttConfig:
    return MqttConfig(enabled=True, port=port, client_id=client_id)


def as_json(payload: bytes) -> dict[str, JsonValue]:
    value = json.loads(payload)
    assert isinstance(value, dict)
    return value


def jpeg(path: Path) -> bytes:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[10:30, 20:40] = (0, 0, 255)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    path.write_bytes(data.tobytes())
    return data.tobytes()


def threat(snapshot: Path | None) -> Event:
    return Event(
        id="ev42",
        camera="front_door",
        verdict=Verdict.THREAT,
        labels=("person",),
        start=1.0,
        end=6.0,
        wall_start=1_704_744_000.0,
        wall_end=1_704_744_005.0,
        score=0.87,
        zones=("porch",),
        snapshot=snapshot,
        alert=True,
    )


def test_discovery_configs_are_retained(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber]
) -> None:
    first = subscribers()
    assert first.wait(lambda: all(first.on(t) for t in DISCOVERY))
    late = subscribers()  # connects after everything was published
    assert late.wait(lambda: all(late.on(t) for t in [*DISCOVERY, "hearthcam/available"]))
    for topic in [*DISCOVERY, "hearthcam/available"]:
        assert late.on(topic)[0].retain, topic
    assert late.on("hearthcam/available")[0].payload == b"online"
    assert late.on("hearthcam/front_door/threat")[0].payload == b"OFF"

    sensor = as_json(late.on(DISCOVERY[0])[0].payload)
    assert sensor["unique_id"] == "hearthcam_front_door_threat"
    assert sensor["name"] == "Threat"
    assert sensor["state_topic"] == "hearthcam/front_door/threat"
    assert (sensor["payload_on"], sensor["payload_off"]) == ("ON", "OFF")
    assert sensor["device_class"] == "occupancy"
    assert sensor["availability_topic"] == "hearthcam/available"
    device = sensor["device"]
    assert isinstance(device, dict)
    assert device["identifiers"] == ["hearthcam_front_door"]
    assert (device["name"], device["manufacturer"], device["model"]) == (
        "Front door",
        "hearthcam",
        "camera",
    )
    pet = as_json(late.on("homeassistant/binary_sensor/hearthcam_front_door_pet/config")[0].payload)
    assert pet["device_class"] == "motion"

    image = as_json(late.on(DISCOVERY[-2])[0].payload)
    assert image["image_topic"] == "hearthcam/front_door/snapshot"
    assert image["content_type"] == "image/jpeg"
    assert image["unique_id"] == "hearthcam_front_door_snapshot"

    event = as_json(late.on(DISCOVERY[-1])[0].payload)
    assert event["state_topic"] == "hearthcam/front_door/events"
    assert event["event_types"] == ["threat", "pet", "vehicle", "motion", "familiar"]
    assert event["device"] == device


def test_discovery_messages_match_what_is_published() -> None:
    cfg = MqttConfig(topic_prefix="cams", discovery_prefix="ha")
    topics = [topic for topic, _ in discovery_messages(cfg, "garage", "Garage")]
    assert topics[0] == "ha/binary_sensor/hearthcam_garage_threat/config"
    assert topics[-1] == "ha/event/hearthcam_garage/config"
    payloads = [payload for _, payload in discovery_messages(cfg, "garage", "Garage")]
    assert {p["availability_topic"] for p in payloads} == {"cams/available"}


def test_an_event_lifecycle_over_mqtt(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber], tmp_path: Path
) -> None:
    sub = subscribers()
    assert sub.wait_payloads("hearthcam/front_door/threat", [b"OFF"])
    picture = jpeg(tmp_path / "snap.jpg")
    dispatcher = AlertDispatcher([notifier], AlertFormatter(BASE_URL, CAMERAS))
    ev = threat(tmp_path / "snap.jpg")
    dispatcher(Change.STARTED, replace(ev, verdict=Verdict.MOTION, alert=False))
    assert sub.wait_payloads("hearthcam/front_door/motion", [b"OFF", b"ON"])
    dispatcher(Change.UPDATED, replace(ev, snapshot=None))
    assert sub.wait_payloads("hearthcam/front_door/threat", [b"OFF", b"ON"])
    assert sub.wait(lambda: bool(sub.on("hearthcam/front_door/events")))
    dispatcher(Change.ENDED, ev)
    assert sub.wait_payloads("hearthcam/front_door/threat", [b"ON", b"OFF"])
    assert [m.payload for m in sub.on("hearthcam/front_door/threat")] == [b"OFF", b"ON", b"OFF"]
    assert [m.payload for m in sub.on("hearthcam/front_door/motion")] == [b"OFF", b"ON", b"OFF"]
    assert [m.payload for m in sub.on("hearthcam/front_door/pet")] == [b"OFF"]

    (message,) = sub.on("hearthcam/front_door/events")
    assert not message.retain
    body = as_json(message.payload)
    assert body["event_type"] == "threat"
    assert body["id"] == "ev42"
    assert body["link"] == f"{BASE_URL}/events/ev42"
    assert body["snapshot_url"] == f"{BASE_URL}/api/events/ev42/snapshot"
    assert str(tmp_path) not in message.payload.decode()
    (snapshot,) = sub.on("hearthcam/front_door/snapshot")
    assert snapshot.payload == picture
    dispatcher.close()


def test_snapshot_is_retained(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber], tmp_path: Path
) -> None:
    picture = jpeg(tmp_path / "snap.jpg")
    first = subscribers()
    assert first.wait(lambda: bool(first.on("hearthcam/available")))
    notifier.send(AlertFormatter(BASE_URL, CAMERAS).alert(threat(tmp_path / "snap.jpg")))
    assert first.wait(lambda: bool(first.on("hearthcam/front_door/snapshot")))
    late = subscribers()
    assert late.wait(lambda: bool(late.on("hearthcam/front_door/snapshot")))
    (snapshot,) = late.on("hearthcam/front_door/snapshot")
    assert snapshot.retain
    assert snapshot.payload == picture


def test_home_assistant_birth_republishes_discovery(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber]
) -> None:
    sub = subscribers()
    assert sub.wait(lambda: bool(sub.on(DISCOVERY[-1])))
    sub.publish("homeassistant/status", "online")
    assert sub.wait(lambda: len(sub.on(DISCOVERY[-1])) == 2)
    assert not sub.on(DISCOVERY[-1])[1].retain  # a live copy, sent for the new HA


def test_close_says_offline(broker: Mosquitto, subscribers: Callable[[], Subscriber]) -> None:
    channel = MqttNotifier(config(broker.port), CAMERAS)
    assert channel.wait_connected(5)
    sub = subscribers()
    assert sub.wait_payloads("hearthcam/available", [b"online"])
    channel.close()
    assert sub.wait_payloads("hearthcam/available", [b"offline"])


KILLED = """
import sys, time
from hearthcam.alerts.mqtt import MqttNotifier
from hearthcam.config import MqttConfig
cfg = MqttConfig(enabled=True, port=int(sys.argv[1]), client_id="hearthcam-killed")
channel = MqttNotifier(cfg, {"front_door": "Front door"})
assert channel.wait_connected(5)
print("connected", flush=True)
time.sleep(60)
"""


def test_last_will_says_offline_when_killed(
    broker: Mosquitto, subscribers: Callable[[], Subscriber]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(broker.port)], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"connected\n"
        sub = subscribers()
        assert sub.wait_payloads("hearthcam/available", [b"online"])
        process.kill()  # no clean disconnect: only the broker's last will can say offline
        process.wait()
        assert sub.wait_payloads("hearthcam/available", [b"offline"])
        assert sub.on("hearthcam/available")[-1].retain is False  # live delivery of the will
        late = subscribers()
        assert late.wait(lambda: bool(late.on("hearthcam/available")))
        assert late.on("hearthcam/available")[0] == Received(
            "hearthcam/available", b"offline", True
        )
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_reconnects_after_the_broker_restarts(
    broker: Mosquitto, notifier: MqttNotifier, subscribers: Callable[[], Subscriber], tmp_path: Path
) -> None:
    broker.stop()
    deadline = time.monotonic() + 5
    while notifier.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not notifier.connected
    broker.start()
    assert notifier.wait_connected(10)
    sub = subscribers()
    # The restarted broker kept nothing; the reconnect announced everything again, retained.
    assert sub.wait(lambda: all(sub.on(t) for t in [*DISCOVERY, "hearthcam/available"]))
    late = subscribers()
    assert late.wait(lambda: all(late.on(t) for t in [*DISCOVERY, "hearthcam/available"]))
    assert all(late.on(t)[0].retain for t in [*DISCOVERY, "hearthcam/available"])
    notifier.send(AlertFormatter(BASE_URL, CAMERAS).alert(threat(None)))
    assert sub.wait(lambda: bool(sub.on("hearthcam/front_door/events")))
    assert as_json(sub.on("hearthcam/front_door/events")[0].payload)["id"] == "ev42"


def signed_notice(data_dir: Path, household: int) -> CheckpointNotice:
    """A real signed checkpoint of a 5-entry view log, as the schedule sends it."""
    db = filled_log(data_dir, 5, ())
    key = AuditKey.load(key_path(data_dir))
    with Store.open(f"sqlite:///{db}") as store:
        checkpoint = AuditLog(store, key).checkpoint(T0 + 50)
    return notice(household, checkpoint_json(checkpoint, key.public_raw()))


def test_a_view_log_checkpoint_is_retained_per_household(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber], tmp_path: Path
) -> None:
    sent = signed_notice(tmp_path / "data", household=2)
    notifier.send_checkpoint(sent)
    late = subscribers()  # the owner's logger connects afterwards and still gets it
    topic = "hearthcam/2/audit/checkpoint"
    assert late.wait(lambda: bool(late.on(topic)))
    message = late.on(topic)[0]
    assert message.retain
    ((checkpoint, raw),) = parse_saved(message.payload.decode("utf-8"))  # the CLI's reader
    key = AuditKey.load(key_path(tmp_path / "data"))
    assert checkpoint.size == 5
    assert checkpoint.signed_by(key.public_key)
    assert raw == key.public_raw()
    assert not late.on("hearthcam/1/audit/checkpoint")
