"""Consent to one clip under a stored receipt, and withdrawal that leaves 0 bytes and 0 rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hearthcam.privacy.consent import (
    DISPOSED_COUNTER,
    Sharing,
    SharingError,
    clip_of,
    copy_path,
    redacted_path,
)
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import REPORTED_REASON, report
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore, receipt_digest
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.factories import make_h264_segment
from tests.support.store_fixtures import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each consent test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


class _Listener:
    def __init__(self, fail: bool = False) -> None:
        self.told: list[str] = []
        self.fail = fail

    def on_withdrawn(self, share_id: str) -> list[str]:
        self.told.append(share_id)
        if self.fail:
            raise RuntimeError("the dataset store is down")
        return [f"2 annotations of {share_id} deleted"]


def test_the_receipt_says_purpose_audience_view_keeping_and_withdrawal(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    event = event_with_clip(data_dir, plain_clip)
    receipt = sharing.receipt(event, "Front door", NOW)
    assert receipt["clip"]["camera"] == "Front door"
    assert receipt["kept_days"] == 30
    for key in ("purpose", "who_may_see", "what_they_see", "checks", "withdraw", "views"):
        assert len(receipt[key]) > 40, key
    assert "blurred" in receipt["what_they_see"]
    assert receipt["kept_until"] == "2026-10-21"  # 30 days after NOW (2026-09-21)


def test_sharing_needs_the_receipt_shown_and_makes_a_private_copy(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    event = event_with_clip(data_dir, plain_clip)
    with pytest.raises(SharingError, match="receipt changed"):
        sharing.share(event, 1, 7, "Front door", "0" * 64, NOW)
    with pytest.raises(SharingError, match="receipt changed"):  # shown for another camera name
        sharing.share(event, 1, 7, "Back door", agreed(sharing, event), NOW)
    assert sharing.shares.count() == 0
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    assert share.status == ShareStatus.CONSENTED.value
    assert share.receipt_sha256 == receipt_digest(share.receipt)
    stored = sharing.shares.get(share.id)
    assert stored is not None
    assert stored.receipt == sharing.receipt(event, "Front door", NOW)
    assert stored.expires == NOW + 30 * 86400
    copy = copy_path(data_dir, share.id)
    assert copy.read_bytes() == plain_clip.read_bytes()
    with pytest.raises(SharingError, match="already shared"):
        sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)


def test_each_clip_of_a_long_event_is_shared_on_its_own_under_a_receipt_naming_it(
    sharing: Sharing, data_dir: Path, plain_clip: Path, tmp_path: Path
) -> None:
    event = event_with_clip(data_dir, plain_clip)
    assert event.clip is not None
    second = event.clip.with_name(f"{event.id}.part2.mp4")
    make_h264_segment(second, seconds=1.0, fps=10, size=(96, 64))  # other bytes than the first
    event = dataclasses.replace(event, clip_parts=(second,))
    receipt = sharing.receipt(event, "Front door", NOW, part=2)
    assert receipt["clip"]["part"] == 2
    assert receipt["clip"]["parts"] == 2
    assert clip_of(receipt) == 2
    # The first clip's receipt is another receipt: agreeing to one does not share the other.
    first_digest = agreed(sharing, event)
    with pytest.raises(SharingError, match="receipt changed"):
        sharing.share(event, 1, 7, "Front door", first_digest, NOW, part=2)
    share = sharing.share(event, 1, 7, "Front door", receipt_digest(receipt), NOW, part=2)
    assert copy_path(data_dir, share.id).read_bytes() == second.read_bytes()
    with pytest.raises(SharingError, match="already shared"):
        sharing.share(event, 1, 7, "Front door", receipt_digest(receipt), NOW, part=2)
    first = sharing.share(event, 1, 7, "Front door", first_digest, NOW)  # the first: its own
    assert copy_path(data_dir, first.id).read_bytes() == plain_clip.read_bytes()
    assert clip_of(first.receipt) == 1
    with pytest.raises(SharingError, match="no clip 3"):
        sharing.receipt(event, "Front door", NOW, part=3)
    # An event with one clip keeps the receipt it always had (no part named).
    single = event_with_clip(data_dir, plain_clip)
    assert "part" not in sharing.receipt(single, "Front door", NOW)["clip"]


def test_an_event_without_its_clip_cannot_be_shared(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    event = event_with_clip(data_dir, plain_clip)
    assert event.clip is not None
    event.clip.unlink()
    with pytest.raises(SharingError, match="no clip"):
        sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    assert not (data_dir / "shares").exists() or not any((data_dir / "shares").iterdir())


def test_withdrawal_tells_every_holder_then_leaves_no_byte_and_no_row(
    store: Store, data_dir: Path, plain_clip: Path
) -> None:
    listener = _Listener()
    sharing = Sharing(ShareStore(store), data_dir, listeners=[listener])
    event = event_with_clip(data_dir, plain_clip)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    redacted_path(data_dir, share.id).write_bytes(b"\x00" * 1000)  # as if checks had run
    done = sharing.withdraw(share.id)
    assert done is not None
    assert done.files == 2
    assert done.actions == [f"2 annotations of {share.id} deleted"]
    assert listener.told == [share.id]
    assert sharing.shares.get(share.id) is None
    assert sharing.shares.count() == 0
    leftovers = [p for p in (data_dir / "shares").rglob("*")]
    assert leftovers == []
    assert sharing.withdraw(share.id) is None  # once only
    assert event.clip is not None
    assert event.clip.is_file()  # the owner's own clip is theirs to keep


def test_a_holder_that_fails_stops_the_withdrawal_so_it_can_be_retried(
    store: Store, data_dir: Path, plain_clip: Path
) -> None:
    listener = _Listener(fail=True)
    sharing = Sharing(ShareStore(store), data_dir, listeners=[listener])
    event = event_with_clip(data_dir, plain_clip)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    with pytest.raises(RuntimeError):
        sharing.withdraw(share.id)
    assert sharing.shares.get(share.id) is not None  # not "withdrawn" while a copy remains
    listener.fail = False
    assert sharing.withdraw(share.id) is not None
    assert sharing.shares.count() == 0


def test_shares_end_at_their_keeping_time_and_with_their_event(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    old, new = event_with_clip(data_dir, plain_clip), event_with_clip(data_dir, plain_clip)
    first = sharing.share(old, 1, 7, "Front door", agreed(sharing, old), NOW)
    later = NOW + 86400
    second = sharing.share(new, 1, 7, "Front door", agreed(sharing, new, now=later), later)
    assert sharing.expire(NOW + 30 * 86400 - 1) == []
    [expired] = sharing.expire(NOW + 30 * 86400)
    assert expired.share_id == first.id
    assert [s.id for s in sharing.shares.of_household(1)] == [second.id]
    [expired] = sharing.expire(later + 30 * 86400)
    assert expired.share_id == second.id
    assert sharing.shares.count() == 0
    again = sharing.share(old, 1, 7, "Front door", agreed(sharing, old), NOW)
    [gone] = sharing.withdraw_event(old.id)
    assert gone.share_id == again.id
    assert not copy_path(data_dir, again.id).exists()


def test_a_reported_clip_is_disposed_of_and_never_offered_again(
    store: Store, data_dir: Path, plain_clip: Path
) -> None:
    listener = _Listener()
    sharing = Sharing(ShareStore(store), data_dir, listeners=[listener])
    event = event_with_clip(data_dir, plain_clip)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    assert not report(sharing, share.id, NOW)  # not published yet: nothing to report
    assert sharing.shares.set_status(share.id, "consented", "published", NOW)
    redacted_path(data_dir, share.id).write_bytes(b"\x00" * 10)
    assert report(sharing, share.id, NOW + 1)
    stored = sharing.shares.get(share.id)
    assert stored is not None
    assert stored.status == "disposed"
    assert stored.reason == REPORTED_REASON
    assert listener.told == [share.id]
    assert list((data_dir / "shares").rglob("*.mp4")) == []
    assert sharing.shares.counter(DISPOSED_COUNTER) == 1
    assert not report(sharing, share.id, NOW + 2)
