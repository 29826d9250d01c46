"""Clips a home sends to a hub and withdraws, end to end: a real uvicorn hub on loopback over a
SQLite file, real keys, real sealed files. Sealed at rest, one home's clips out of another's
reach, signed deletion receipts that name exactly what was deleted, unlinking deleting every clip
of the home, too large and tampered uploads refused."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hearthcam.hub import clips as clip_store
from hearthcam.hub.client import HeldClip, HubClient, HubRefused
from hearthcam.hub.clips import (
    DeletionReceipt,
    HubClips,
    receipt_from_json,
    receipt_to_json,
    verify_receipt,
)
from hearthcam.hub.identity import HubError, Identity, load_or_create
from hearthcam.hub.registry import HubRegistry
from hearthcam.hub.server import hub_app, start_hub
from hearthcam.hub.signing import SignatureError, sign_request
from tests.support.hubs import served_hub

DIGEST = "ab" * 32  # the consent receipt's SHA-256, as the home would send it
KEEP_UNTIL = 2_000_000_000


@dataclass
class Hub:
    url: str
    identity: Identity
    registry: HubRegistry
    clips: HubClips
    folder: Path
    database: Path


@dataclass
class Home:
    identity: Identity
    client: HubClient
    home_id: int


def _mp4_like(size: int = 8192) -> bytes:
    """Bytes that begin as an MP4 does, the rest random."""
    head = b"\x00\x00\x00\x18ftypmp42"
    return head + os.urandom(size - len(head))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    database = tmp_path / "hub.sqlite"
    url = f"sqlite:///{database}"
    registry = HubRegistry.open(url)
    identity = load_or_create(tmp_path / "hub" / "identity.pem")
    folder = tmp_path / "hub-clips"
    clips = HubClips.from_url(url, folder, identity)
    server = start_hub(hub_app(registry, identity, clips=clips), "127.0.0.1", 0)
    try:
        yield Hub(server.url, identity, registry, clips, folder, database)
    finally:
        server.stop()
        clips.close()
        registry.close()


def _link(hub: Hub, path: Path, name: str) -> Iterator[Home]:
    identity = load_or_create(path / "identity.pem")
    with HubClient(hub.url, identity) as client:
        linked = client.link(hub.registry.new_code(time.time()), name)
        yield Home(identity, client, linked.home_id)


@pytest.fixture
def home(hub: Hub, tmp_path: Path) -> Iterator[Home]:
    yield from _link(hub, tmp_path / "home", "Maple Street")


@pytest.fixture
def other(hub: Hub, tmp_path: Path) -> Iterator[Home]:
    yield from _link(hub, tmp_path / "other", "Oak Avenue")


def _files(hub: Hub) -> list[Path]:
    return sorted(hub.folder.iterdir())


def _key_rows(hub: Hub, home_id: int) -> list[str]:
    with sqlite3.connect(hub.database) as connection:
        rows = connection.execute(
            "SELECT clip_id FROM hub_clips WHERE home_id = ? ORDER BY clip_id", (home_id,)
        ).fetchall()
    return [row[0] for row in rows]


def _refusal(call: Callable[[], object]) -> HubRefused:
    with pytest.raises(HubRefused) as caught:
        call()
    return caught.value


def test_a_clip_sent_is_listed_and_sealed_at_rest(hub: Hub, home: Home) -> None:
    data = _mp4_like()
    sha256 = home.client.send_clip("clip-a", data, DIGEST, KEEP_UNTIL)
    assert home.client.clips() == [HeldClip("clip-a", len(data), KEEP_UNTIL)]
    (held,) = hub.clips.list(home.home_id)
    assert (held.sha256, held.receipt_digest, held.size) == (sha256, DIGEST, len(data))
    assert hub.clips.open(home.home_id, "clip-a") == data
    (sealed,) = _files(hub)
    assert re.fullmatch(r"[0-9a-f]{32}", sealed.name)  # neither the clip's id nor the home's
    stored = sealed.read_bytes()
    assert len(stored) > len(data)  # nonce and tag
    assert data[1000:1032] not in stored
    assert b"ftyp" not in stored
    assert data[1000:1032] not in hub.database.read_bytes()


def test_a_sealed_file_opens_only_as_its_own_clip(hub: Hub, home: Home) -> None:
    home.client.send_clip("clip-a", _mp4_like(), DIGEST, KEEP_UNTIL)
    home.client.send_clip("clip-b", _mp4_like(), DIGEST, KEEP_UNTIL)
    first, second = _files(hub)
    first.write_bytes(second.read_bytes())  # one clip's file in the other's place
    assert sorted(_opens(hub, home.home_id, c) for c in ("clip-a", "clip-b")) == [False, True]


def _opens(hub: Hub, home_id: int, clip_id: str) -> bool:
    try:
        hub.clips.open(home_id, clip_id)
    except HubError as error:
        return "does not open" not in str(error)  # any other failure counts as opening
    return True


def test_the_same_clip_again_is_refused(hub: Hub, home: Home) -> None:
    data = _mp4_like()
    home.client.send_clip("clip-a", data, DIGEST, KEEP_UNTIL)
    refused = _refusal(lambda: home.client.send_clip("clip-a", _mp4_like(), DIGEST, KEEP_UNTIL))
    assert (refused.status, refused.detail) == (409, "already held")
    assert len(_files(hub)) == 1  # the refused copy's file is gone
    assert hub.clips.open(home.home_id, "clip-a") == data


def test_another_home_cannot_list_read_or_delete_a_clip(hub: Hub, home: Home, other: Home) -> None:
    data = _mp4_like()
    home.client.send_clip("clip-a", data, DIGEST, KEEP_UNTIL)
    assert other.client.clips() == []
    refused = _refusal(lambda: other.client.withdraw_clip("clip-a"))
    assert (refused.status, refused.detail) == (404, "no such clip")
    with pytest.raises(HubError, match="no clip"):
        hub.clips.open(other.home_id, "clip-a")
    assert [clip.clip_id for clip in home.client.clips()] == ["clip-a"]
    assert hub.clips.open(home.home_id, "clip-a") == data
    # The same id from another home is another clip.
    other.client.send_clip("clip-a", b"other", DIGEST, KEEP_UNTIL)
    assert hub.clips.open(other.home_id, "clip-a") == b"other"
    assert hub.clips.open(home.home_id, "clip-a") == data


def test_a_withdrawal_deletes_the_key_and_the_file_and_is_signed(
    hub: Hub, home: Home, other: Home
) -> None:
    data = _mp4_like()
    sha256 = home.client.send_clip("clip-a", data, DIGEST, KEEP_UNTIL)
    home.client.send_clip("clip-b", _mp4_like(), DIGEST, KEEP_UNTIL)
    before = set(_files(hub))
    receipt = home.client.withdraw_clip("clip-a")
    assert (receipt.home_id, receipt.clip_id, receipt.sha256) == (home.home_id, "clip-a", sha256)
    assert receipt.hub_key_id == hub.identity.key_id
    assert abs(receipt.deleted_at - time.time()) < 60
    assert verify_receipt(hub.identity.public, receipt)
    assert not verify_receipt(other.identity.public, receipt)
    changed = [
        dataclasses.replace(receipt, home_id=receipt.home_id + 1),
        dataclasses.replace(receipt, clip_id="clip-b"),
        dataclasses.replace(receipt, sha256="0" * 64),
        dataclasses.replace(receipt, deleted_at=receipt.deleted_at + 1),
        dataclasses.replace(receipt, hub_key_id=other.identity.key_id),
        dataclasses.replace(receipt, signature=bytes(64)),
    ]
    for forged in changed:
        assert not verify_receipt(hub.identity.public, forged)
    assert receipt_from_json(receipt_to_json(receipt)) == receipt
    assert _key_rows(hub, home.home_id) == ["clip-b"]
    assert len(before - set(_files(hub))) == 1
    assert len(_files(hub)) == 1
    assert [clip.clip_id for clip in home.client.clips()] == ["clip-b"]
    with pytest.raises(HubError, match="no clip"):
        hub.clips.open(home.home_id, "clip-a")
    refused = _refusal(lambda: home.client.withdraw_clip("clip-a"))
    assert refused.status == 404


def test_a_receipt_not_signed_by_the_pinned_hub_is_refused(
    hub: Hub, home: Home, other: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    home.client.send_clip("clip-a", _mp4_like(), DIGEST, KEEP_UNTIL)
    monkeypatch.setattr(hub.clips, "_identity", other.identity)  # receipts signed by another
    with pytest.raises(SignatureError):
        home.client.withdraw_clip("clip-a")


def test_unlinking_deletes_every_clip_of_the_home(hub: Hub, home: Home, other: Home) -> None:
    sent = {f"clip-{i}": home.client.send_clip(f"clip-{i}", _mp4_like(), DIGEST, KEEP_UNTIL)
            for i in range(3)}  # fmt: skip
    kept = _mp4_like()
    other.client.send_clip("theirs", kept, DIGEST, KEEP_UNTIL)
    receipts = home.client.unlink()
    assert {r.clip_id: r.sha256 for r in receipts} == sent
    assert all(r.home_id == home.home_id for r in receipts)
    assert all(verify_receipt(hub.identity.public, r) for r in receipts)
    assert _key_rows(hub, home.home_id) == []
    assert len(_files(hub)) == 1
    assert other.client.clips() == [HeldClip("theirs", len(kept), KEEP_UNTIL)]
    assert hub.clips.open(other.home_id, "theirs") == kept
    assert hub.registry.home_id(home.identity.key_id) is None


def test_a_clip_too_large_is_refused(hub: Hub, home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clip_store, "MAX_CLIP_BYTES", 1000)
    refused = _refusal(lambda: home.client.send_clip("big", _mp4_like(5000), DIGEST, KEEP_UNTIL))
    assert refused.status == 413
    # Without a declared length (chunked), refused while reading.
    data = _mp4_like(5000)
    target = f"/hub/v1/clips/big?receipt={DIGEST}&keep_until={KEEP_UNTIL}"
    headers = sign_request(home.identity, "PUT", target, data, time.time())
    chunks = iter([data[:2500], data[2500:]])
    response = httpx.put(hub.url + target, content=chunks, headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert _files(hub) == []
    assert _key_rows(hub, home.home_id) == []
    assert home.client.send_clip("small", _mp4_like(1000), DIGEST, KEEP_UNTIL)


def test_a_tampered_upload_is_refused(hub: Hub, home: Home) -> None:
    target = f"/hub/v1/clips/clip-a?receipt={DIGEST}&keep_until={KEEP_UNTIL}"
    signed_for = _mp4_like()
    headers = sign_request(home.identity, "PUT", target, signed_for, time.time())
    response = httpx.put(hub.url + target, content=_mp4_like(), headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "bad signature"})
    assert _files(hub) == []
    assert home.client.clips() == []
    response = httpx.put(hub.url + target, content=signed_for, headers=headers)
    assert response.status_code == 201  # the same headers with the bytes they signed


@pytest.mark.parametrize(
    "path",
    [
        f"/hub/v1/clips/clip-a?receipt={'ab' * 31}&keep_until=1",
        "/hub/v1/clips/clip-a?receipt=" + DIGEST,
        f"/hub/v1/clips/clip-a?receipt={DIGEST}&keep_until=-1",
        f"/hub/v1/clips/clip-a?receipt={DIGEST}&keep_until=1&extra=1",
        f"/hub/v1/clips/{'x' * 65}?receipt={DIGEST}&keep_until=1",
        f"/hub/v1/clips/clip.a?receipt={DIGEST}&keep_until=1",
    ],
)
def test_a_malformed_upload_is_422(hub: Hub, home: Home, path: str) -> None:
    headers = sign_request(home.identity, "PUT", path, b"clip", time.time())
    response = httpx.put(hub.url + path, content=b"clip", headers=headers)
    assert response.status_code == 422
    assert _files(hub) == []


def test_a_hub_without_a_clip_store(tmp_path: Path) -> None:
    registry = HubRegistry.open(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    identity = load_or_create(tmp_path / "hub" / "identity.pem")
    server = start_hub(hub_app(registry, identity), "127.0.0.1", 0)
    try:
        home = load_or_create(tmp_path / "home" / "identity.pem")
        with HubClient(server.url, home) as client:
            client.link(registry.new_code(time.time()), "home")
            refused = _refusal(lambda: client.send_clip("clip-a", b"x", DIGEST, KEEP_UNTIL))
            assert (refused.status, refused.detail) == (404, "no clip store")
            assert _refusal(client.clips).status == 404
            assert client.unlink() == []
    finally:
        server.stop()
        registry.close()


@pytest.mark.parametrize(
    "change",
    [
        {"home_id": "1"},
        {"home_id": True},
        {"clip_id": "a/b"},
        {"sha256": "AB" * 32},
        {"deleted_at": 1.5},
        {"hub_key_id": "x"},
        {"signature": "not base64!"},
        {"signature": "AAAA"},
        {"extra": 1},
    ],
)
def test_a_receipt_out_of_shape_is_a_hub_error(change: dict[str, object]) -> None:
    good = receipt_to_json(DeletionReceipt(1, "clip-a", "ab" * 32, 1, "0" * 16, bytes(64)))
    assert receipt_from_json(good).clip_id == "clip-a"
    with pytest.raises(HubError, match="not a deletion receipt"):
        receipt_from_json({**good, **change})


def test_a_withdrawn_clips_key_is_left_in_no_database_file(hub: Hub, home: Home) -> None:
    # Before: the deleted key row stayed in SQLite's free pages and in its write-ahead log, so
    # whoever copied the database and the sealed file could still open the clip.
    home.client.send_clip("clip-a", _mp4_like(), DIGEST, KEEP_UNTIL)
    with sqlite3.connect(hub.database) as connection:
        (key,) = connection.execute("SELECT key FROM hub_clips WHERE clip_id = 'clip-a'").fetchone()
    assert isinstance(key, bytes)
    assert len(key) == 32

    def files_holding_the_key() -> list[str]:
        found = hub.database.parent.glob(hub.database.name + "*")
        return [path.name for path in found if key in path.read_bytes()]

    assert files_holding_the_key()  # the key is in the database (file or its log) while held
    home.client.withdraw_clip("clip-a")
    assert files_holding_the_key() == []


def test_a_clip_past_its_keeping_time_is_deleted_with_a_receipt(hub: Hub, home: Home) -> None:
    now = time.time()
    home.client.send_clip("due", _mp4_like(), DIGEST, int(now) - 1)
    home.client.send_clip("later", _mp4_like(), DIGEST, int(now) + 3600)
    [receipt] = hub.clips.expire(now)
    assert receipt.clip_id == "due"
    assert verify_receipt(hub.identity.public, receipt)
    assert [c.clip_id for c in home.client.clips()] == ["later"]
    assert len(_files(hub)) == 1
    assert _key_rows(hub, home.home_id) == ["later"]
    assert hub.clips.expire(now) == []


def test_the_sweep_removes_only_old_files_no_clip_names(hub: Hub, home: Home) -> None:
    """What a crash between a deletion's two steps (key row gone, file left) or mid-write
    leaves is removed once an hour old; a held clip's file, a young file (a clip being
    received) and anything not named as the hub names its files stay."""
    home.client.send_clip("clip-a", _mp4_like(), DIGEST, KEEP_UNTIL)
    (held,) = _files(hub)
    now = time.time()
    old = now - 2 * 3600
    orphan = hub.folder / ("ab" * 16)
    young = hub.folder / ("cd" * 16)
    part = hub.folder / f".{'ef' * 16}.part"
    foreign = hub.folder / "notes.txt"
    for path in (orphan, young, part, foreign):
        path.write_bytes(os.urandom(64))
    for path in (held, orphan, part, foreign):
        os.utime(path, (old, old))

    assert hub.clips.sweep(now) == 2

    assert _files(hub) == sorted([held, young, foreign])
    assert _opens(hub, home.home_id, "clip-a")
    assert hub.clips.sweep(now) == 0


def test_hub_serve_sweeps_its_clips_folder_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "hub" / "clips"
    folder.mkdir(parents=True)
    orphan = folder / ("ab" * 16)
    orphan.write_bytes(os.urandom(64))
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    with served_hub(tmp_path) as served:
        deadline = time.monotonic() + 30
        while orphan.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not orphan.exists(), served.said()
        assert "removed 1 sealed files no clip names" in served.said()
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(60) == 0, served.said()
