"""What leaves a home for its review hub, end to end: a real hub on loopback (SQLite, sealed
clips, signed answers) and a real home (SQLite, sealed media, the share rows and the delivery
table). Only the redacted copy of a share the owner consented to send to *this* hub, once
published, goes there, under a fresh id; a withdrawal has the hub delete it and keeps its signed
receipt, also when the hub was away at the time, when it races the upload, or when the upload
was cut short. The checks themselves are not run here (the share is moved to published as they
would move it; tests/hub/test_hub_walk.py runs them for real)."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.accounts import Accounts
from hearthcam.app import open_media
from hearthcam.cli import cli
from hearthcam.hub import clips as clip_store
from hearthcam.hub.client import HubClient
from hearthcam.hub.clips import receipt_from_json, verify_receipt
from hearthcam.hub.delivery import HubDelivery, features_from_events
from hearthcam.hub.home import LINK_FILE, UNLINKED_FILE, destination
from hearthcam.hub.identity import key_id_of
from hearthcam.learn.registry import ModelRegistry
from hearthcam.privacy.consent import Sharing, redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.db import Store
from hearthcam.store.hub_deliveries import DeliveryState, HubDeliveryStore
from hearthcam.store.shares import ShareRecord, ShareStore, receipt_digest
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import SealedMedia, write_bytes
from tests.support.factories import make_h264_segment
from tests.support.hubs import TestHub, link_home
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration


@dataclass
class Home:
    data_dir: Path
    store: Store
    media: SealedMedia
    sharing: Sharing
    deliveries: HubDeliveryStore
    delivery: HubDelivery
    original: bytes
    redacted: bytes
    home_id: int = 0

    def event(self, like: Event | None = None) -> Event:
        """A finished event of camera front whose clip is sealed where the recorder puts it
        (with the tracks and times of ``like``, when given)."""
        event_id = f"{time.time_ns():032x}"[-32:]
        clip = self.data_dir / "clips" / "front" / f"{event_id}.mp4"
        write_bytes(self.media, clip, "front", self.original)
        wall = time.time() - 600
        event = Event(
            id=event_id, camera="front", verdict=Verdict.THREAT, labels=("person",),
            start=0.0, end=2.0, wall_start=wall, wall_end=wall + 2, score=0.9, zones=(),
            tracks=(), snapshot=None, clip=clip, alert=True,
        )  # fmt: skip
        if like is not None:
            event = dataclasses.replace(like, id=event_id, camera="front", clip=clip, snapshot=None)
        self.store.save_event(event)
        return event

    def share(self, to_hub: bool = True, like: Event | None = None) -> ShareRecord:
        event, now = self.event(like), time.time()
        digest = receipt_digest(self.sharing.receipt(event, "Front door", now, 1, to_hub))
        return self.sharing.share(event, 1, 1, "Front door", digest, now, 1, to_hub)

    def publish(self, share: ShareRecord) -> None:
        """Moves the share as passed checks do, with its redacted copy beside it."""
        write_bytes(self.media, redacted_path(self.data_dir, share.id), share.camera, self.redacted)
        shares, now = self.sharing.shares, time.time()
        assert shares.set_status(share.id, "consented", "checking", now)
        assert shares.set_status(share.id, "checking", "published", now)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[TestHub]:
    made = TestHub(tmp_path / "hub")
    made.start()
    try:
        yield made
    finally:
        made.close()


def _home(tmp_path: Path) -> Iterator[Home]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    store = Store.open(f"sqlite:///{data_dir / 'hearthcam.sqlite'}", data_dir=data_dir)
    Accounts(store, hasher=cheap_hasher()).setup(
        "lena", "copper kettle on the stove", "Home", ["front"], time.time()
    )
    media = open_media(store, data_dir)
    # The listeners as the app orders them: the models here, then the hub's copy.
    sharing = Sharing(
        ShareStore(store), data_dir, listeners=[ModelRegistry(store, data_dir)], media=media,
        hub=lambda: destination(data_dir),
    )  # fmt: skip
    deliveries = HubDeliveryStore(store)
    delivery = HubDelivery(
        sharing, deliveries, data_dir, timeout=5.0, ask_wait=0.2,
        features=features_from_events(store.get_event),
    )  # fmt: skip
    sharing.listeners.append(delivery)
    original, redacted = tmp_path / "original.mp4", tmp_path / "redacted.mp4"
    make_h264_segment(original, seconds=1.0, size=(320, 240))
    make_h264_segment(redacted, seconds=1.0, size=(160, 120))
    try:
        yield Home(
            data_dir, store, media, sharing, deliveries, delivery, original.read_bytes(),
            redacted.read_bytes(),
        )  # fmt: skip
    finally:
        store.close()


@pytest.fixture
def home(tmp_path: Path, hub: TestHub) -> Iterator[Home]:
    for made in _home(tmp_path):
        made.home_id = link_home(made.data_dir, hub).home_id
        yield made


def _held(hub: TestHub, home: Home) -> dict[str, bytes]:
    """What the hub holds for the home: clip id -> the bytes, opened with the hub's keys."""
    held = hub.clips.list(home.home_id)
    return {c.clip_id: hub.clips.open(home.home_id, c.clip_id) for c in held}


def test_only_the_redacted_copy_of_a_published_hub_share_leaves_home(
    hub: TestHub, home: Home
) -> None:
    share = home.share()
    assert share.receipt["hub"]["operator"] == "Northwind Review Co-op"
    assert share.expires == pytest.approx(share.created + 14 * 86400)  # the hub's keeping time
    assert home.delivery.run_once().sent == []  # being checked: nothing leaves
    kept_at_home = home.share(to_hub=False)
    home.publish(kept_at_home)
    assert home.delivery.run_once().sent == []
    assert _held(hub, home) == {}

    home.publish(share)
    done = home.delivery.run_once()
    assert done.sent == [share.id]
    assert done.failed == []
    held = _held(hub, home)
    [(clip_id, data)] = held.items()
    assert data == home.redacted
    assert data != home.original
    assert clip_id != share.id  # a fresh pseudonymous id: the share id stays home
    [listed] = hub.clips.list(home.home_id)
    assert listed.receipt_digest == share.receipt_sha256
    assert listed.keep_until == int(share.expires)
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.HELD
    assert delivery.clip_id == clip_id
    assert delivery.size == len(home.redacted)
    assert home.deliveries.get(kept_at_home.id) is None
    assert home.delivery.run_once().sent == []  # sent once
    assert len(_held(hub, home)) == 1


def test_withdrawing_has_the_hub_delete_its_copy_and_keeps_the_signed_receipt(
    hub: TestHub, home: Home
) -> None:
    share = home.share()
    home.publish(share)
    home.delivery.run_once()
    done = home.sharing.withdraw(share.id)
    assert done is not None
    assert "the review hub deleted its copy (its signed receipt is kept)" in done.actions
    assert _held(hub, home) == {}
    assert list(hub.folder.iterdir()) == []
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.DELETED
    assert delivery.deletion is not None
    receipt = receipt_from_json(delivery.deletion)
    assert verify_receipt(hub.identity.public, receipt)
    assert receipt.clip_id == delivery.clip_id
    assert receipt.home_id == home.home_id
    assert receipt.sha256 == delivery.sha256


def test_a_withdrawal_while_the_hub_is_away_is_asked_again_until_it_answers(
    hub: TestHub, home: Home
) -> None:
    share = home.share()
    home.publish(share)
    home.delivery.run_once()
    hub.stop()
    done = home.sharing.withdraw(share.id)
    assert done is not None
    assert done.files == 2
    assert any("asks again until it answers" in a for a in done.actions)
    assert home.sharing.shares.get(share.id) is None
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.WITHDRAWING
    assert "cannot reach the hub" in delivery.error
    assert home.delivery.run_once().failed == [share.id]  # still away

    hub.start()  # back, on the same address
    assert len(_held(hub, home)) == 1
    assert home.delivery.run_once().deleted == [share.id]
    assert _held(hub, home) == {}
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.DELETED
    assert delivery.deletion is not None
    assert delivery.error == ""


def test_a_withdrawal_during_the_upload_deletes_what_arrived(
    hub: TestHub, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = home.share()
    home.publish(share)
    send = HubClient.send_clip

    def withdrawn_meanwhile(client: HubClient, *args: object, **kwargs: object) -> str:
        answer = send(client, *args, **kwargs)  # type: ignore[arg-type]
        home.sharing.withdraw(share.id)  # the owner's click lands while the answer is on its way
        return answer

    monkeypatch.setattr(HubClient, "send_clip", withdrawn_meanwhile)
    done = home.delivery.run_once()
    assert done.sent == []
    assert _held(hub, home) == {}
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.DELETED


def test_an_upload_cut_short_is_withdrawn_with_its_share(hub: TestHub, home: Home) -> None:
    share = home.share()
    home.publish(share)
    # The process died after the row was made, before (or while) the clip went out.
    assert home.deliveries.begin(share.id, "c" * 32, 1, key_id_of(hub.identity.public), 1.0)
    home.sharing.withdraw(share.id)
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.GONE
    assert "holds no such clip" in delivery.error
    assert home.delivery.run_once().sent == []
    assert _held(hub, home) == {}


def test_an_upload_whose_answer_was_lost_is_not_sent_twice(hub: TestHub, home: Home) -> None:
    share = home.share()
    home.publish(share)
    hub_key = key_id_of(hub.identity.public)
    assert home.deliveries.begin(share.id, "d" * 32, 1, hub_key, 1.0)
    # The hub got it; the home never heard back.
    digest, keep = share.receipt_sha256, int(share.expires)
    hub.clips.add(home.home_id, "d" * 32, home.redacted, digest, keep, time.time())
    assert home.delivery.run_once().sent == [share.id]
    assert list(_held(hub, home)) == ["d" * 32]
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.HELD


def test_a_share_consented_for_another_hub_is_not_sent_to_this_one(
    tmp_path: Path, hub: TestHub, home: Home
) -> None:
    share = home.share()
    (home.data_dir / LINK_FILE).unlink()
    other = TestHub(tmp_path / "other-hub")
    other.start()
    try:
        link_home(home.data_dir, other)
        home.publish(share)
        assert home.delivery.run_once().sent == []
        assert other.clips.list(1) == []
        assert hub.clips.list(home.home_id) == []
        assert home.deliveries.get(share.id) is None
    finally:
        other.close()


def test_a_clip_the_hub_refuses_is_marked_refused_and_not_sent_again(
    hub: TestHub, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clip_store, "MAX_CLIP_BYTES", 1000)
    share = home.share()
    home.publish(share)
    assert home.delivery.run_once().failed == [share.id]
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.REFUSED
    assert "413" in delivery.error
    assert home.delivery.run_once().failed == []


def test_no_hub_share_without_a_link_or_without_stated_terms(tmp_path: Path) -> None:
    for made in _home(tmp_path):
        event = made.event()
        with pytest.raises(Exception, match="not linked to a review hub"):
            made.sharing.receipt(event, "Front door", time.time(), 1, to_hub=True)
        silent = TestHub(tmp_path / "silent-hub", terms=None)
        silent.start()
        try:
            link_home(made.data_dir, silent)
            assert destination(made.data_dir) is None
            with pytest.raises(Exception, match="not linked to a review hub"):
                made.sharing.receipt(event, "Front door", time.time(), 1, to_hub=True)
        finally:
            silent.close()
        shutil.rmtree(made.data_dir / "shares", ignore_errors=True)


def test_a_hub_shares_receipt_names_the_hub_and_its_terms(hub: TestHub, home: Home) -> None:
    receipt = home.share().receipt
    assert receipt["hub"] == {
        "address": hub.url,
        "operator": "Northwind Review Co-op",
        "annotators_in": "Portugal",
        "fingerprint": hub.identity.fingerprint(),
    }
    assert receipt["kept_days"] == 14
    assert "run by Northwind Review Co-op, working in Portugal" in receipt["who_may_see"]
    assert "the original never leaves" in receipt["checks"]
    assert "nothing else: not your home's name" in receipt["what_they_see"]
    assert "looks for faces again before anyone there may see it" in receipt["checks"]
    assert "their own watermark" in receipt["what_they_see"]
    assert "hour of day" in receipt["what_they_see"]  # the numbers the hub's model learns from
    assert "signed deletion receipt" in receipt["withdraw"]
    assert ShareStatus.CONSENTED.value == "consented"


def test_unlinking_records_the_hubs_receipts_and_ends_the_shares_meant_for_it(
    tmp_path: Path, hub: TestHub, home: Home
) -> None:
    sent, waiting, kept_here = home.share(), home.share(), home.share(to_hub=False)
    home.publish(sent)
    home.publish(kept_here)
    assert home.delivery.run_once().sent == [sent.id]
    config = tmp_path / "hearthcam.yml"
    config.write_text(f"data_dir: {home.data_dir}\n")
    unlinked = CliRunner().invoke(cli, ["hub", "unlink", "-c", str(config)])
    assert unlinked.exit_code == 0, unlinked.output
    assert "the hub deleted the 1 clip this home shared there" in " ".join(unlinked.stdout.split())
    assert _held(hub, home) == {}
    assert (home.data_dir / UNLINKED_FILE).is_file()  # for the server to take in

    home.delivery.run_once()
    assert not (home.data_dir / UNLINKED_FILE).exists()
    delivery = home.deliveries.get(sent.id)
    assert delivery is not None
    assert delivery.state is DeliveryState.DELETED
    assert delivery.deletion is not None
    assert verify_receipt(hub.identity.public, receipt_from_json(delivery.deletion))
    shares = home.sharing.shares
    assert shares.get(sent.id) is None  # the shares meant for that hub end, copies and all
    assert shares.get(waiting.id) is None
    assert not (home.data_dir / "shares" / waiting.id).exists()
    assert shares.get(kept_here.id) is not None  # a share kept at home stays
