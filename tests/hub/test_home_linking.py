"""``hub.linking``: a home links to a real hub on loopback and unlinks, as the CLI and the app do,
and each refusal is a HubError of its own kind with one line naming what failed. Then the home's
delivery, running, takes a new link in at once: the new hub's view log is checked at the next
pass, not an hour after the last hub's."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from hearthcam.hub.client import HubRefused, HubUnreachable
from hearthcam.hub.delivery import HubDelivery
from hearthcam.hub.home import HOME_IDENTITY, LINK_FILE, UNLINKED_FILE, read_check, read_link
from hearthcam.hub.identity import load_or_create
from hearthcam.hub.linking import (
    AlreadyLinked,
    HomeFilesError,
    IdentityMissing,
    NotAHubAddress,
    NotLinked,
    UnknownToHub,
    check_hub_address,
    client_for,
    current_link,
    link_home,
    unlink_home,
)
from hearthcam.store.hub_deliveries import DeliveryState
from tests.conftest import free_port
from tests.hub.test_delivery import Home, home, hub
from tests.support.hubs import TERMS, TestHub

__all__ = ["home", "hub"]

DIGEST = "ab" * 32


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def code(hub: TestHub) -> str:
    return hub.registry.new_code(time.time())


def test_a_home_links_pins_the_hub_and_keeps_the_link(hub: TestHub, data: Path) -> None:
    made = link_home(data, hub.url + "/", code(hub), "Maple Street")
    assert made.url == hub.url  # without the slash
    assert made.fingerprint == hub.identity.fingerprint()
    assert made.terms == TERMS
    assert made.log_key is not None
    assert read_link(data) == made == current_link(data)
    assert stat.S_IMODE((data / LINK_FILE).stat().st_mode) == 0o600
    identity = load_or_create(data / HOME_IDENTITY)
    assert hub.registry.home_id(identity.key_id) == made.home_id
    with client_for(made, identity) as client:
        assert client.hello() == made.home_id


def test_refusals_before_the_hub_is_asked_leave_the_code_good(
    hub: TestHub, data: Path, tmp_path: Path
) -> None:
    given = code(hub)
    for address in ("hub.example.org", "ftp://hub.example.org", "http://", ""):
        with pytest.raises(NotAHubAddress, match="is not a hub address"):
            link_home(data, address, given)
    with pytest.raises(HomeFilesError, match="no data directory at"):
        link_home(tmp_path / "nowhere", hub.url, given)
    assert not (data / LINK_FILE).exists()
    first = link_home(data, hub.url, given)
    with pytest.raises(AlreadyLinked) as again:
        link_home(data, hub.url, code(hub))
    assert again.value.link == first
    assert str(again.value) == f"this home is linked already ({data / LINK_FILE})"
    (data / LINK_FILE).write_text("{")  # damaged: still linked, and said so
    with pytest.raises(AlreadyLinked) as damaged:
        link_home(data, hub.url, code(hub))
    assert damaged.value.link is None
    with pytest.raises(HomeFilesError, match="is damaged"):
        current_link(data)


def test_the_hubs_refusals_are_named(hub: TestHub, data: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(HubUnreachable, match=f"cannot reach the hub at {dead}"):
        link_home(data, dead, "ABCDE-FGHJK")
    with pytest.raises(HubRefused) as unknown:
        link_home(data, hub.url, "ABCDE-FGHJK")
    assert (unknown.value.status, unknown.value.detail) == (403, "unknown or used code")
    expired = hub.registry.new_code(time.time() - 3600, ttl_s=60)
    with pytest.raises(HubRefused) as late:
        link_home(data, hub.url, expired)
    assert (late.value.status, late.value.detail) == (403, "expired code")
    with pytest.raises(HubRefused) as named:
        link_home(data, hub.url, code(hub), "tab\there")
    assert named.value.status == 422
    assert not (data / LINK_FILE).exists()


def test_unlinking_deletes_the_homes_clips_at_the_hub_with_receipts(
    hub: TestHub, data: Path
) -> None:
    made = link_home(data, hub.url, code(hub))
    with client_for(made, load_or_create(data / HOME_IDENTITY)) as client:
        client.send_clip("clip-1", b"redacted bytes", DIGEST, int(time.time()) + 3600)
    done = unlink_home(data)
    assert done.link == made
    [receipt] = done.receipts
    assert (receipt.home_id, receipt.clip_id) == (made.home_id, "clip-1")
    assert hub.clips.list(made.home_id) == []
    assert not (data / LINK_FILE).exists()
    assert (data / HOME_IDENTITY).is_file()  # linked again, it is the same home
    [left] = json.loads((data / UNLINKED_FILE).read_text())
    assert left["hub_key"] == made.hub_key
    assert [r["clip_id"] for r in left["receipts"]] == ["clip-1"]
    with pytest.raises(NotLinked, match="not linked to a hub"):
        unlink_home(data)


def test_unlinking_a_home_the_hub_forgot_or_without_its_key_keeps_the_link(
    hub: TestHub, data: Path
) -> None:
    link_home(data, hub.url, code(hub))
    identity = load_or_create(data / HOME_IDENTITY)
    assert hub.registry.unlink(identity.key_id, time.time())  # the operator removed the home
    with pytest.raises(UnknownToHub, match=r"forget the link with `hearthcam hub unlink --forget`"):
        unlink_home(data)
    assert (data / LINK_FILE).is_file()
    (data / HOME_IDENTITY).unlink()
    with pytest.raises(IdentityMissing, match=r"hub identity .* is missing"):
        unlink_home(data)


def test_forgetting_a_link_the_hub_forgot_ends_its_shares_without_receipts(
    hub: TestHub, data: Path
) -> None:
    """The operator removed the home (or the hub lost its database): nothing can be deleted
    there any more, so the link is forgotten here and the home's server is told why."""
    made = link_home(data, hub.url, code(hub))
    identity = load_or_create(data / HOME_IDENTITY)
    assert hub.registry.unlink(identity.key_id, time.time())
    done = unlink_home(data, forget=True)
    assert done.link == made
    assert done.receipts == ()
    assert done.forgotten == "the hub did not know this home any more"
    assert not (data / LINK_FILE).exists()
    assert (data / HOME_IDENTITY).is_file()
    [left] = json.loads((data / UNLINKED_FILE).read_text())
    assert left == {"hub_key": made.hub_key, "receipts": [], "forgotten": done.forgotten}


def test_forget_unlinks_for_real_when_the_hub_still_knows_the_home(
    hub: TestHub, data: Path
) -> None:
    made = link_home(data, hub.url, code(hub))
    with client_for(made, load_or_create(data / HOME_IDENTITY)) as client:
        client.send_clip("clip-1", b"redacted bytes", DIGEST, int(time.time()) + 3600)
    done = unlink_home(data, forget=True)
    assert done.forgotten == ""
    assert [r.clip_id for r in done.receipts] == ["clip-1"]
    assert hub.clips.list(made.home_id) == []


def test_forgetting_a_link_to_a_hub_that_is_gone(hub: TestHub, data: Path) -> None:
    link_home(data, hub.url, code(hub))
    hub.stop()  # the hub's operator shut it down for good
    with pytest.raises(HubUnreachable):
        unlink_home(data)
    assert (data / LINK_FILE).is_file()  # without --forget the link stays
    done = unlink_home(data, forget=True)
    assert done.forgotten.startswith("the hub could not be reached (")
    assert not (data / LINK_FILE).exists()


def test_check_hub_address() -> None:
    assert check_hub_address(" https://hub.example.org/ ") == "https://hub.example.org"
    assert check_hub_address("http://[::1]:8470") == "http://[::1]:8470"


def test_a_running_delivery_checks_a_new_hubs_log_at_once(
    hub: TestHub, home: Home, tmp_path: Path
) -> None:
    clock = [time.time()]
    delivery = HubDelivery(
        home.sharing, home.deliveries, home.data_dir, clock=lambda: clock[0], check_every=3600
    )
    assert delivery.run_once().checked is True
    assert delivery.run_once().checked is None  # the hour is not up
    unlink_home(home.data_dir)
    other = TestHub(tmp_path / "other-hub")
    other.start()
    try:
        made = link_home(home.data_dir, other.url, code(other))
        clock[0] += 60
        assert delivery.run_once().checked is True  # a new hub: checked at once
        checked = read_check(home.data_dir)
        assert checked is not None
        assert (checked["url"], checked["ok"]) == (made.url, True)
    finally:
        other.close()


def test_the_homes_server_ends_the_shares_of_a_forgotten_link_and_says_why(
    hub: TestHub, home: Home
) -> None:
    share = home.share()
    home.publish(share)
    assert share.id in home.delivery.run_once().sent
    identity = load_or_create(home.data_dir / HOME_IDENTITY)
    assert hub.registry.unlink(identity.key_id, time.time())  # the operator removed the home
    unlink_home(home.data_dir, forget=True)

    assert home.delivery.take_in_unlinked() == 1
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.GONE
    assert delivery.error == (
        "the link was forgotten without the hub's receipt: the hub did not know this home any more"
    )
    assert home.sharing.shares.get(share.id) is None  # ended: withdrawn, its row gone
