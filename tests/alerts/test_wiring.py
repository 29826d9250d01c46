"""The running app sends alert-worthy events to the configured channels (and nothing else)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hearthcam import app
from hearthcam.alerts.checkpoints import state_path
from hearthcam.alerts.webhook import verify_signature
from hearthcam.config import parse_config
from hearthcam.store.db import Store
from tests.alerts.test_webhook import RecordingServer
from tests.conftest import SceneFile
from tests.viewlog.test_log import filled_log

SECRET = "s3cret-s3cret-s3cret"


def run_file_camera(scene: Path, data: Path, webhook: str) -> None:
    config = parse_config(
        {
            "data_dir": str(data),
            "alerts": {"webhooks": [{"url": webhook, "secret": SECRET, "retries": 0}]},
            "cameras": {"front_door": {"inputs": [{"path": str(scene)}]}},
        }
    )
    runtime = app.build(config, lossless=True, realtime=False)
    runtime.streams["front_door"].run(runtime.stop)
    runtime.close()  # flushes events and clips, then drains the alert channels


@pytest.mark.integration
def test_a_person_is_alerted_once_with_a_signed_webhook(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    server = RecordingServer()
    run_file_camera(people_scene.path, tmp_path / "data", server.url)
    bodies = [json.loads(r.body) for r in server.requests]
    news = [b for b in bodies if b["kind"] == "alert"]
    assert len(news) == 1, bodies
    alert = news[0]
    assert alert["verdict"] == "threat"
    assert alert["title"].startswith("Person at Front door, ")
    assert alert["link"].endswith(f"/events/{alert['id']}")
    assert [b["kind"] for b in bodies].count("clip") == 1  # the clip-ready follow-up
    # The decision, taken on its own thread, is stored on the event row (the app shows it).
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        stored = store.get_event(alert["id"])
        assert stored is not None
        assert stored.alert is True
        assert stored.clip is not None
        assert [e.id for e in store.events() if e.alert] == [alert["id"]]
    request = server.requests[0]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify_signature(
        SECRET,
        headers["x-hearthcam-timestamp"],
        request.body,
        headers["x-hearthcam-signature"],
        tolerance=10**9,
    )


@pytest.mark.integration
def test_a_pet_does_not_alert(pet_scene: SceneFile, tmp_path: Path) -> None:
    server = RecordingServer()
    run_file_camera(pet_scene.path, tmp_path / "data", server.url)
    assert server.requests == []
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        assert store.events()
        assert not any(e.alert for e in store.events())


@pytest.mark.integration
def test_a_person_reaches_the_households_subscribed_browsers_by_web_push(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    from hearthcam.accounts import Accounts, Role
    from hearthcam.alerts.webpush import VapidKeys
    from hearthcam.store.push import PushStore, PushSubscription
    from tests.support.push_service import PushService, b64url, browser_key, decrypt, vapid_claims
    from tests.support.world import cheap_hasher

    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "alerts": {"web_push": {"allow_http_endpoints": True}},
            "cameras": {"front_door": {"inputs": [{"path": str(people_scene.path)}]}},
        }
    )
    config.data_dir.mkdir(parents=True)
    service = PushService()
    with Store.open(config.database_url) as store:
        accounts = Accounts(store, hasher=cheap_hasher())
        owner = accounts.setup("lena", "copper kettle on the stove", "Home", ["front_door"], 0.0)
        assert owner.household_id is not None
        gone = accounts.create_user(
            "otto", "a long enough phrase", Role.MEMBER, owner.household_id, 0
        )
        browser, p256dh = browser_key()
        auth = b"0123456789abcdef"
        push = PushStore(store)
        for user, path in ((owner.id, "/lena"), (gone.id, "/otto")):
            sub = PushSubscription(
                user, owner.household_id, service.url(path), p256dh, b64url(auth)
            )
            push.add(sub, 0.0)
        accounts.delete_user(gone.id)  # removed from the household: their browser gets nothing
    try:
        runtime = app.build(config, lossless=True, realtime=False)
        runtime.streams["front_door"].run(runtime.stop)
        runtime.close()
    finally:
        service.close()
    assert [m.path for m in service.received] == ["/lena"]
    shown = decrypt(service.received[0], browser, auth)
    assert shown["title"].startswith("Person at Front door, ")
    assert shown["url"].endswith(f"/events/{shown['tag']}")
    server_key = VapidKeys.load_or_create(app.vapid_path(config)).application_server_key
    assert vapid_claims(service.received[0], server_key)["sub"].startswith("mailto:")


@pytest.mark.integration
@pytest.mark.parametrize("hours", [24, 0])
def test_the_running_app_sends_the_view_log_checkpoint_unless_turned_off(
    tmp_path: Path, hours: int
) -> None:
    data = tmp_path / "data"
    filled_log(data, 4, ())  # households 1, 2, 3
    server = RecordingServer()
    config = parse_config(
        {
            "data_dir": str(data),
            "alerts": {"webhooks": [{"url": server.url, "secret": SECRET, "retries": 0}]},
            "audit": {"checkpoint_every_hours": hours},
        }
    )
    runtime = app.build(config, lossless=True, realtime=False)
    try:
        assert (runtime.checkpoints is None) == (hours == 0)
        runtime.start(retention=False)
        deadline = time.monotonic() + 10
        while hours and len(server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runtime.close()
        server.close()
    if hours == 0:
        assert server.requests == []
        return
    assert [json.loads(r.body)["size"] for r in server.requests] == [4, 4, 4]
    assert json.loads(state_path(data).read_text()) == {"1": 4, "2": 4, "3": 4}


def test_a_households_checkpoint_goes_to_its_members_browsers_only(tmp_path: Path) -> None:
    from hearthcam.accounts import Accounts, Role
    from hearthcam.accounts.choices import HouseholdChoices
    from hearthcam.store.push import PushStore, PushSubscription
    from tests.support.world import cheap_hasher

    config = parse_config({"data_dir": str(tmp_path / "data")})
    config.data_dir.mkdir(parents=True)
    with Store.open(config.database_url) as store:
        accounts = Accounts(store, hasher=cheap_hasher())
        owner = accounts.setup("lena", "copper kettle on the stove", "Home", [], 0.0)
        household = owner.household_id
        assert household is not None
        gone = accounts.create_user("otto", "a long enough phrase", Role.MEMBER, household, 0)
        push = PushStore(store)
        for user, path in ((owner.id, "lena"), (gone.id, "otto")):
            push.add(PushSubscription(user, household, f"https://push.example/{path}", "k", "a"), 0)
        accounts.delete_user(gone.id)
        targets = HouseholdChoices(store, config).household_push_targets(household)
        assert [t.endpoint for t in targets] == ["https://push.example/lena"]
        assert HouseholdChoices(store, config).household_push_targets(household + 1) == []
