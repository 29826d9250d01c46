"""Web Push against a push service on loopback: what a subscribed browser would decrypt, the
VAPID signature push services check, forgetting gone subscriptions, and the VAPID key file."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthcam.alerts.text import CheckpointNotice
from hearthcam.alerts.webpush import MAX_PAYLOAD, VapidKeys, WebPushNotifier, checkpoint_message
from hearthcam.store.push import PushSubscription
from hearthcam.viewlog.signing import parse_saved
from tests.alerts.test_mqtt import signed_notice
from tests.alerts.test_ntfy import alert
from tests.support.push_service import PushService, browser_key, decrypt, vapid_claims

pytestmark = pytest.mark.integration

AUTH = os.urandom(16)
CONTACT = "mailto:lena@example.org"


@pytest.fixture
def service() -> Iterator[PushService]:
    running = PushService(status={"/gone": 410, "/broken": 500})
    yield running
    running.close()


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return VapidKeys.load_or_create(tmp_path / "secrets" / "vapid.pem")


def subscription(service: PushService, path: str, p256dh: str) -> PushSubscription:
    from tests.support.push_service import b64url

    return PushSubscription(1, 1, service.url(path), p256dh, b64url(AUTH))


def test_a_subscribed_browser_decrypts_the_alert_and_the_vapid_signature_holds(
    service: PushService, keys: VapidKeys
) -> None:
    browser, p256dh = browser_key()
    target = subscription(service, "/phone", p256dh)
    asked: list[str] = []

    def targets(camera: str) -> list[PushSubscription]:
        asked.append(camera)
        return [target]

    notifier = WebPushNotifier(keys, CONTACT, targets, gone=lambda _: None, allow_local=True)
    sent = alert()
    notifier.send(sent)
    notifier.close()
    assert asked == ["front_door"]
    (message,) = service.received
    assert message.path == "/phone"
    assert message.headers["ttl"] == "3600"
    assert message.headers["urgency"] == "high"
    assert decrypt(message, browser, AUTH) == {
        "title": sent.title,
        "body": sent.body,
        "url": sent.link,
        "tag": "ev9",
    }
    assert b"front_door" not in message.body  # encrypted on the wire, readable only by it
    claims = vapid_claims(message, keys.application_server_key)
    assert claims["sub"] == CONTACT
    assert claims["aud"] == service.url("").rstrip("/")
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_a_gone_subscription_is_forgotten_and_a_failing_one_is_reported_after_the_rest(
    service: PushService, keys: VapidKeys
) -> None:
    _, p256dh = browser_key()
    gone, broken, fine = (subscription(service, p, p256dh) for p in ("/gone", "/broken", "/ok"))
    forgotten: list[str] = []
    notifier = WebPushNotifier(
        keys, CONTACT, lambda _camera: [gone, broken, fine], gone=forgotten.append, allow_local=True
    )
    with pytest.raises(RuntimeError, match="1 browser"):
        notifier.send(alert())
    assert forgotten == [gone.endpoint]
    assert [m.path for m in service.received] == ["/gone", "/broken", "/ok"]  # all were tried


def test_no_subscriptions_send_nothing(service: PushService, keys: VapidKeys) -> None:
    notifier = WebPushNotifier(keys, CONTACT, lambda _camera: [], gone=lambda _: None)
    notifier.send(alert())
    assert service.received == []


def test_an_endpoint_whose_name_now_resolves_into_the_lan_gets_nothing(tmp_path: Path) -> None:
    keys = VapidKeys.load_or_create(tmp_path / "vapid.pem")
    endpoint = "https://push.example/phone"
    sub = PushSubscription(1, 1, endpoint, browser_key()[1], "MTIzNDU2Nzg5MDEyMzQ1Ng")
    asked: list[str] = []

    def lan(host: str) -> list[str]:
        asked.append(host)
        return ["192.168.1.1"]  # re-pointed since it was stored

    notifier = WebPushNotifier(keys, CONTACT, lambda _c: [sub], gone=lambda _: None, resolver=lan)
    with pytest.raises(RuntimeError, match="resolves inside"):
        notifier.send(alert())
    notifier.close()
    assert asked == ["push.example"]


def test_the_vapid_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "vapid.pem"
    first = VapidKeys.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    again = VapidKeys.load_or_create(path)
    assert again.application_server_key == first.application_server_key
    from tests.support.push_service import unb64url

    point = unb64url(first.application_server_key)
    assert len(point) == 65
    assert point[0] == 4


def test_a_checkpoint_reaches_the_households_browsers_with_the_checkpoint(
    service: PushService, keys: VapidKeys, tmp_path: Path
) -> None:
    browser, p256dh = browser_key()
    target = subscription(service, "/phone", p256dh)
    asked: list[int] = []

    def household_targets(household: int) -> list[PushSubscription]:
        asked.append(household)
        return [target]

    notifier = WebPushNotifier(
        keys,
        CONTACT,
        lambda _camera: [],
        gone=lambda _: None,
        allow_local=True,
        household_targets=household_targets,
    )
    sent = signed_notice(tmp_path / "data", household=2)
    notifier.send_checkpoint(sent)
    notifier.close()
    assert asked == [2]
    (message,) = service.received
    assert message.headers["urgency"] == "low"
    shown = decrypt(message, browser, AUTH)
    assert shown["url"] == "/views"
    assert shown["tag"] == "checkpoint-2"
    ((checkpoint, _),) = parse_saved(json.dumps(shown["checkpoint"]))
    assert checkpoint.size == 5


def test_a_checkpoint_too_big_for_a_push_sends_its_size_and_root() -> None:
    big = CheckpointNotice(1, 9, "ab" * 32, json.dumps({"size": 9, "pad": "x" * MAX_PAYLOAD}))
    shown = json.loads(checkpoint_message(big))
    assert "checkpoint" not in shown
    assert (shown["size"], shown["root"]) == (9, "ab" * 32)
