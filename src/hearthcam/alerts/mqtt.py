"""MQTT alerts that Home Assistant discovers by itself: one device per camera, no YAML.

Topics (``P`` = topic_prefix, ``D`` = discovery_prefix, ``C`` = camera key, ``V`` = verdict):

    P/available          ``online``/``offline``, retained; ``offline`` is also the last will
    P/C/V                ``ON``/``OFF``, retained: a camera has an open event of that verdict
    P/C/events           JSON per alert, ``event_type`` = the verdict; not retained (Home
                         Assistant ignores retained event messages, and a replay is no alert)
    P/C/snapshot         the alert's JPEG, raw bytes, retained
    P/H/audit/checkpoint the view log's latest signed checkpoint JSON for household H, retained
                         (what ``hearthcam audit verify --against`` reads)
    P/H/hub/alarm        JSON when the review hub's view log did not check out for household
                         H (``HubLogAlarm.payload``), retained until the next one
    D/binary_sensor/hearthcam_C_V/config, D/image/hearthcam_C_snapshot/config,
    D/event/hearthcam_C/config   discovery, retained, and sent again on Home Assistant's birth
                                 message (``D/status`` = ``online``), as its docs recommend

The discovery payloads follow Home Assistant's MQTT docs (integrations/mqtt "MQTT Discovery",
binary_sensor.mqtt, image.mqtt, event.mqtt). paho-mqtt runs the connection in its own thread
and reconnects with backoff; every connect re-announces availability, discovery and state, so
a broker restarted without persistence is repopulated.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hearthcam.alerts.text import (
    Alert,
    AlertKind,
    CameraActivity,
    CheckpointNotice,
    HubLogAlarm,
    JsonObject,
    display_name,
)
from hearthcam.config import MqttConfig
from hearthcam.types import Verdict

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
QOS = 1
# Home Assistant binary_sensor device classes: someone present for a person, movement otherwise.
DEVICE_CLASSES = {
    Verdict.THREAT: "occupancy",
    Verdict.PET: "motion",
    Verdict.VEHICLE: "motion",
    Verdict.MOTION: "motion",
    Verdict.FAMILIAR: "occupancy",
}
_MAX_QUEUED = 256  # messages kept while disconnected; older alerts are worth little after that


def _version() -> str:
    try:
        return importlib.metadata.version("hearthcam")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def availability_topic(cfg: MqttConfig) -> str:
    """The topic carrying online/offline."""
    return f"{cfg.topic_prefix}/available"


def state_topic(cfg: MqttConfig, camera: str, verdict: Verdict) -> str:
    """The ON/OFF topic of one camera's verdict sensor."""
    return f"{cfg.topic_prefix}/{camera}/{verdict.value}"


def events_topic(cfg: MqttConfig, camera: str) -> str:
    """The topic of a camera's alert events (JSON)."""
    return f"{cfg.topic_prefix}/{camera}/events"


def snapshot_topic(cfg: MqttConfig, camera: str) -> str:
    """The topic of a camera's latest alert snapshot (JPEG bytes)."""
    return f"{cfg.topic_prefix}/{camera}/snapshot"


def hub_alarm_topic(cfg: MqttConfig, household_id: int) -> str:
    """The retained topic of a household's last review-hub alarm."""
    return f"{cfg.topic_prefix}/{household_id}/hub/alarm"


def checkpoint_topic(cfg: MqttConfig, household_id: int) -> str:
    """The retained topic of a household's latest view log checkpoint."""
    return f"{cfg.topic_prefix}/{household_id}/audit/checkpoint"


def _common(cfg: MqttConfig, camera: str, name: str, base_url: str | None) -> JsonObject:
    """Keys every entity of a camera shares: availability, the device, the origin."""
    device: JsonObject = {
        "identifiers": [f"hearthcam_{camera}"],
        "name": name,
        "manufacturer": "hearthcam",
        "model": "camera",
        "sw_version": _version(),
    }
    if base_url and base_url.startswith(("http://", "https://")):
        device["configuration_url"] = base_url
    return {
        "availability_topic": availability_topic(cfg),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": QOS,
        "device": device,
        "origin": {"name": "hearthcam", "sw_version": _version()},
    }


def discovery_messages(
    cfg: MqttConfig, camera: str, name: str, base_url: str | None = None
) -> list[tuple[str, JsonObject]]:
    """(topic, payload) of every discovery config of one camera."""
    common = _common(cfg, camera, name, base_url)
    messages: list[tuple[str, JsonObject]] = []
    for verdict in Verdict:
        object_id = f"hearthcam_{camera}_{verdict.value}"
        payload: JsonObject = {
            "name": verdict.value.capitalize(),
            "unique_id": object_id,
            "state_topic": state_topic(cfg, camera, verdict),
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": DEVICE_CLASSES[verdict],
            **common,
        }
        messages.append((f"{cfg.discovery_prefix}/binary_sensor/{object_id}/config", payload))
    image_id = f"hearthcam_{camera}_snapshot"
    image: JsonObject = {
        "name": "Snapshot",
        "unique_id": image_id,
        "image_topic": snapshot_topic(cfg, camera),
        "content_type": "image/jpeg",
        **common,
    }
    messages.append((f"{cfg.discovery_prefix}/image/{image_id}/config", image))
    event_id = f"hearthcam_{camera}"
    event: JsonObject = {
        "name": "Alert",
        "unique_id": event_id,
        "state_topic": events_topic(cfg, camera),
        "event_types": [v.value for v in Verdict],
        "device_class": "motion",
        **common,
    }
    messages.append((f"{cfg.discovery_prefix}/event/{event_id}/config", event))
    return messages


def event_message(alert: Alert) -> JsonObject:
    """The events-topic JSON: Home Assistant's required ``event_type`` plus the alert payload."""
    return {"event_type": alert.event.verdict.value, **alert.payload}


class MqttNotifier:
    """Publishes alerts and camera state to an MQTT broker; connects in the background at once."""

    follow_ups = False  # Home Assistant event entities fire per message: one per alert

    def __init__(
        self,
        cfg: MqttConfig,
        cameras: Mapping[str, str],
        base_url: str | None = None,
        reconnect: tuple[int, int] = (1, 30),
        keepalive: int = 30,
    ) -> None:
        """``cameras`` maps camera keys to display names; ``reconnect`` is (min, max) seconds."""
        self._cfg = cfg
        self._base_url = base_url
        self._names = dict(cameras)
        # Looked up again for a camera first seen later (one an owner added while running).
        self._lookup = cameras
        self._states: dict[str, frozenset[Verdict]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._client = self._make_client(reconnect)
        self._client.connect_async(cfg.host, cfg.port, keepalive)
        self._client.loop_start()

    @property
    def name(self) -> str:
        """The channel name."""
        return "mqtt"

    def _make_client(self, reconnect: tuple[int, int]) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._cfg.client_id)
        if self._cfg.username is not None:
            client.username_pw_set(self._cfg.username, self._cfg.password)
        client.will_set(availability_topic(self._cfg), OFFLINE, qos=QOS, retain=True)
        client.reconnect_delay_set(min_delay=reconnect[0], max_delay=reconnect[1])
        client.max_queued_messages_set(_MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def wait_connected(self, timeout: float) -> bool:
        """Waits until the broker accepted the connection."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        """Whether the client is connected now."""
        return self._connected.is_set()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason_code)
            return
        log.info("MQTT connected to %s:%d", self._cfg.host, self._cfg.port)
        client.subscribe(f"{self._cfg.discovery_prefix}/status", qos=QOS)
        self._announce()
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        self._connected.clear()
        if reason_code.is_failure:
            log.warning("MQTT connection lost (%s); paho reconnects", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Home Assistant's birth message: it restarted and wants the discovery configs again.
        if message.payload == ONLINE.encode():
            self._announce()

    def _announce(self) -> None:
        self._publish(availability_topic(self._cfg), ONLINE, retain=True)
        with self._lock:
            names = dict(self._names)
        for camera, name in names.items():
            self._publish_discovery(camera, name)
            self._publish_sensors(camera)

    def _publish_discovery(self, camera: str, name: str) -> None:
        for topic, payload in discovery_messages(self._cfg, camera, name, self._base_url):
            self._publish(topic, json.dumps(payload), retain=True)

    def _publish_sensors(self, camera: str, only: frozenset[Verdict] | None = None) -> None:
        with self._lock:
            active = self._states.get(camera, frozenset())
        for verdict in (v for v in Verdict if only is None or v in only):
            value = "ON" if verdict in active else "OFF"
            self._publish(state_topic(self._cfg, camera, verdict), value, retain=True)

    def _publish(self, topic: str, payload: str | bytes, retain: bool) -> mqtt.MQTTMessageInfo:
        # QoS 1 messages published while disconnected are queued by paho and sent on reconnect.
        return self._client.publish(topic, payload, qos=QOS, retain=retain)

    def _ensure_camera(self, camera: str) -> None:
        with self._lock:
            known = camera in self._names
            self._names.setdefault(camera, self._lookup.get(camera) or display_name(camera))
        if not known:  # a camera missing from the config (``hearthcam analyze``) still shows up
            self._publish_discovery(camera, self._names[camera])

    def publish_state(self, activity: CameraActivity) -> None:
        """Sets the camera's verdict sensors: ON for the verdicts of its open events."""
        self._ensure_camera(activity.camera)
        with self._lock:
            before = self._states.get(activity.camera, frozenset())
            self._states[activity.camera] = activity.active
        # Only the sensors that changed: every connect already published all of them.
        self._publish_sensors(activity.camera, before ^ activity.active)

    def send(self, alert: Alert) -> None:
        """Publishes the alert's snapshot (first, so automations see it) and its event JSON."""
        if alert.kind is not AlertKind.NEW:
            return
        camera = alert.event.camera
        self._ensure_camera(camera)
        if alert.event.snapshot is not None:
            try:
                jpeg = alert.event.snapshot.read_bytes()
            except OSError as error:  # the event still goes out, without its picture
                log.warning("snapshot of event %s unreadable: %s", alert.event.id, error)
            else:
                self._publish(snapshot_topic(self._cfg, camera), jpeg, retain=True)
        self._publish(events_topic(self._cfg, camera), json.dumps(event_message(alert)), False)

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """Publishes the checkpoint, retained: a subscriber that comes later still gets it."""
        self._publish(checkpoint_topic(self._cfg, notice.household_id), notice.text, retain=True)

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """Publishes the alarm, retained: a dashboard that connects later still shows it."""
        topic = hub_alarm_topic(self._cfg, notice.household_id)
        self._publish(topic, json.dumps(notice.payload()), retain=True)

    def close(self, timeout: float = 2.0) -> None:
        """Says offline (a clean disconnect sends no last will), then disconnects."""
        info = self._publish(availability_topic(self._cfg), OFFLINE, retain=True)
        if self._connected.is_set():
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as error:
                log.warning("MQTT offline message not sent: %s", error)
        self._client.disconnect()
        self._client.loop_stop()
