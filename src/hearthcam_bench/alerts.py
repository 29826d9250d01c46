"""Scenario ``alerts``: end-to-end alert latency, from the frame where a person appears to the
MQTT message a subscriber receives.

A real mosquitto (Debian's) runs on a free loopback port; a paho client subscribes to every
camera's events topic the way Home Assistant does. A ``cameras`` trial (4 cameras for 60 s;
2 for 25 s in quick mode) streams at real rate with MQTT alerts on and no cooldown, so every
appearance of people alerts once. Each alert is matched to its event by id; the times are the
wall time of the first frame with people (as in ``latency``), the event STARTED, and the
message's arrival at the subscriber.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hearthcam.config import AlertsConfig, MqttConfig
from hearthcam_bench.broker import Mosquitto, mosquitto_available
from hearthcam_bench.context import BenchContext
from hearthcam_bench.latency import latency_row
from hearthcam_bench.report import Report
from hearthcam_bench.trial import Entrance, TrialResult, TrialSpec, run_trial

CAMERAS, QUICK_CAMERAS = 4, 2
TARGET = 1.5  # seconds, p95: the detection target (1 s) plus the verdict and one broker hop
PREFIX = "hearthcam-bench"


class Arrivals:
    """A paho subscriber noting when each alert (by event id) first arrives."""

    def __init__(self, port: int) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError("the subscriber could not subscribe to the broker")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(f"{PREFIX}/+/events", qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        try:
            event_id = str(json.loads(message.payload)["id"])
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            self.at.setdefault(event_id, now)

    def arrived(self) -> dict[str, float]:
        """Event id -> wall time its first alert arrived, so far."""
        with self._lock:
            return dict(self.at)

    def close(self) -> None:
        """Disconnects."""
        self._client.disconnect()
        self._client.loop_stop()


def delays(entrances: list[Entrance], arrivals: dict[str, float]) -> tuple[list[float], int]:
    """Seconds from people appearing to their alert arriving, and how many never alerted."""
    out, missing = [], 0
    for e in entrances:
        got = arrivals.get(e.event_id) if e.event_id else None
        if got is None or e.appeared is None:
            missing += 1
        else:
            out.append(got - e.appeared)
    return out, missing


def alerts_table(result: TrialResult, arrivals: dict[str, float]) -> Report:
    """The latency table of one trial's alerts."""
    spec = result.spec
    table = Report(
        f"alerts: person on camera → MQTT message received, {spec.cameras} cameras, "
        f"{spec.seconds:.0f} s at real rate",
        ["from → to", "samples", "p50", "p95", "max", "target", "result"],
    )
    to_alert, missing = delays(result.entrances, arrivals)
    started = [
        arrivals[e.event_id] - (e.appeared + e.created)
        for e in result.entrances
        if e.event_id in arrivals and e.appeared is not None and e.created is not None
    ]
    latency_row(table, "people appear → MQTT message received", to_alert, TARGET)
    latency_row(table, "event STARTED → MQTT message received", started, None)
    table.notes += [
        f"{missing} of {len(result.entrances)} appearances got no alert. Broker: Debian's "
        "mosquitto on loopback; subscriber: paho on the events topic, QoS 1; cooldown 0 so "
        "every appearance alerts (the default 60 s would hold back a camera's later ones).",
        "An event alerts when it is first judged a threat (the `latency` table's 'event is a "
        "threat'), then the alert passes the dispatcher's queue, the MQTT client and the broker.",
        f"CPU during the trial: {result.usage.cpu_percent:.0f} % of one core; other processes "
        f"{result.usage.others_percent:.0f} %; dropped detect frames: {result.dropped}.",
    ]
    return table


def run(ctx: BenchContext) -> list[Report]:
    """Starts the broker and a subscriber, runs one trial with MQTT alerts; one table."""
    if not mosquitto_available():
        skipped = Report("alerts: SKIPPED", ["reason"])
        skipped.add("mosquitto is not installed (scripts/setup.sh installs it)")
        return [skipped]
    n = QUICK_CAMERAS if ctx.quick else CAMERAS
    spec = TrialSpec(n, ctx.seconds(60.0, 25.0))
    broker = Mosquitto(ctx.workdir("mosquitto"))
    broker.start()
    try:
        subscriber = Arrivals(broker.port)
        try:
            mqtt_cfg = MqttConfig(
                enabled=True, port=broker.port, topic_prefix=PREFIX, client_id="hearthcam-bench"
            )
            alerts = AlertsConfig(cooldown=0, mqtt=mqtt_cfg)
            with ctx.progress() as bar:
                task = bar.add_task(f"alerts: {n} cameras", total=1.0)
                result = run_trial(
                    ctx, spec, tick=lambda done: bar.update(task, completed=done), alerts=alerts
                )
            time.sleep(0.5)  # an alert sent in the trial's last moment is still on its way
            arrivals = subscriber.arrived()
        finally:
            subscriber.close()
    finally:
        broker.stop()
    return [alerts_table(result, arrivals)]
