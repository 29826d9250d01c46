"""The alarm that the review hub's view log did not check out, on every built-in channel: a real
HTTP receiver on loopback for ntfy and signed webhooks, a real mosquitto for MQTT, a real push
service (the test one, decrypting as a browser does) for web push; and the dispatcher's routing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from hearthcam.alerts.mqtt import MqttNotifier
from hearthcam.alerts.notify import AlertDispatcher, FakeNotifier
from hearthcam.alerts.text import AlertFormatter, HubLogAlarm
from hearthcam.alerts.webhook import verify_signature
from hearthcam.alerts.webpush import MAX_PAYLOAD, VapidKeys, WebPushNotifier, alarm_message
from hearthcam.store.push import PushSubscription
from tests.alerts.test_mqtt import Subscriber, broker, notifier, subscribers
from tests.alerts.test_ntfy import push, server
from tests.alerts.test_webhook import SECRET, RecordingServer
from tests.alerts.test_webhook import notifier as webhook
from tests.alerts.test_webpush import AUTH, CONTACT, keys, service, subscription
from tests.support.push_service import PushService, browser_key, decrypt

__all__ = ["broker", "keys", "notifier", "server", "service", "subscribers"]

pytestmark = pytest.mark.integration

FINDINGS = (
    "shrunk: the log has 3 entries, fewer than the 5 of the checkpoint kept",
    "dropped: entry 4, seen before, is no longer listed",
)


def alarm(household: int = 2, findings: tuple[str, ...] = FINDINGS) -> HubLogAlarm:
    return HubLogAlarm(household, "https://hub.example.org", findings, 1_796_450_000.0)


def test_the_alarm_says_what_was_found_and_where_to_look() -> None:
    body = alarm().body
    assert "https://hub.example.org" in body
    assert all(finding in body for finding in FINDINGS)
    assert "My shared clips" in body
    many = alarm(findings=tuple(f"changed: entry {i}" for i in range(9))).body
    assert "changed: entry 4" in many
    assert "changed: entry 5" not in many
    assert "and 4 more" in many
    assert alarm().payload() == {
        "type": "hub_log_alarm", "household": 2, "hub": "https://hub.example.org",
        "findings": list(FINDINGS), "checked_at": 1_796_450_000,
    }  # fmt: skip


def test_the_dispatcher_hands_it_to_every_channel_that_carries_one() -> None:
    fake = FakeNotifier()
    dispatcher = AlertDispatcher([fake], AlertFormatter("http://127.0.0.1", {}))
    try:
        assert dispatcher.send_hub_alarm(alarm()) == ["fake"]
        deadline = time.monotonic() + 5
        while not fake.alarms:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert fake.alarms == [alarm()]
    finally:
        dispatcher.close()
    assert dispatcher.send_hub_alarm(alarm()) == []  # closed: nothing queued


def test_ntfy_sends_it_urgently(server: RecordingServer) -> None:
    channel = push(server.url, token="tk_secret")
    channel.send_hub_alarm(alarm())
    channel.close()
    (request,) = server.requests
    assert request.path == "/hearth-alerts"
    assert request.headers["Priority"] == "urgent"
    assert request.headers["Authorization"] == "Bearer tk_secret"
    assert "view log does not check out" in request.headers["Title"]
    assert request.body.decode("utf-8") == alarm().body


def test_a_webhook_gets_it_signed() -> None:
    receiver = RecordingServer()
    try:
        channel = webhook(receiver.url)
        channel.send_hub_alarm(alarm())
        channel.close()
        (request,) = receiver.requests
    finally:
        receiver.close()
    assert json.loads(request.body) == alarm().payload()
    assert request.headers["X-Hearthcam-Delivery"] == "hub-alarm.2.1796450000"
    assert request.headers["X-Hearthcam-Household"] == "2"
    timestamp = request.headers["X-Hearthcam-Timestamp"]
    signature = request.headers["X-Hearthcam-Signature"]
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert not verify_signature(SECRET, timestamp, request.body + b" ", signature)


def test_mqtt_keeps_it_retained_per_household(
    notifier: MqttNotifier, subscribers: Callable[[], Subscriber]
) -> None:
    notifier.send_hub_alarm(alarm(household=2))
    late = subscribers()  # a dashboard that connects afterwards still shows it
    topic = "hearthcam/2/hub/alarm"
    assert late.wait(lambda: bool(late.on(topic)))
    message = late.on(topic)[0]
    assert message.retain
    assert json.loads(message.payload) == alarm(household=2).payload()
    assert not late.on("hearthcam/1/hub/alarm")


def test_web_push_reaches_the_households_browsers_urgently(
    service: PushService, keys: VapidKeys
) -> None:
    browser, p256dh = browser_key()
    target = subscription(service, "/phone", p256dh)
    asked: list[int] = []

    def household_targets(household: int) -> list[PushSubscription]:
        asked.append(household)
        return [target]

    channel = WebPushNotifier(
        keys, CONTACT, lambda _camera: [], gone=lambda _: None, allow_local=True,
        household_targets=household_targets,
    )  # fmt: skip
    channel.send_hub_alarm(alarm(household=2))
    channel.close()
    assert asked == [2]
    (message,) = service.received
    assert message.headers["urgency"] == "high"
    shown = decrypt(message, browser, AUTH)
    assert (shown["url"], shown["tag"]) == ("/shared", "hub-alarm-2")
    assert shown["body"] == alarm(household=2).body


def test_a_long_alarm_is_cut_to_fit_a_push() -> None:
    long = alarm(findings=tuple("changed: " + "x" * 900 for _ in range(5)))
    shown = json.loads(alarm_message(long))
    assert len(alarm_message(long).encode("utf-8")) <= MAX_PAYLOAD
    assert shown["body"].endswith("…")
