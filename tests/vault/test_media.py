"""The media I/O seam: plain and sealed files behave alike; sealed ones never show plaintext."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.vault.keyring import KdfParams, Keyring, MediaVault, NoMediaKey
from hearthcam.vault.media import (
    UNOWNED,
    MediaIO,
    PlainMedia,
    SealedMedia,
    part_of,
    read_bytes,
    write_bytes,
)
from hearthcam.vault.sealed import SealedError, SealedReader, plaintext_media_signatures
from tests.vault.test_sealed import count_frames, encode_fragmented

CHEAP = KdfParams(time_cost=1, memory_kib=8, parallelism=1)


def sealed_media(store: Store, data_dir: Path, owners: dict[str, int] | None = None) -> SealedMedia:
    vault = MediaVault(Keyring.open(store, data_dir, kdf=CHEAP), data_dir, chunk_size=1024)
    table = owners if owners is not None else {}
    return SealedMedia(vault, table.get)


@pytest.fixture(params=["plain", "sealed"])
def media(request: pytest.FixtureRequest, store: Store, data_dir: Path) -> MediaIO:
    if request.param == "plain":
        return PlainMedia()
    return sealed_media(store, data_dir)


def test_a_written_file_reads_back_seekable(media: MediaIO, data_dir: Path) -> None:
    path = data_dir / "clips" / "cam" / "2026-01-01" / "abc.bin"
    payload = bytes(range(256)) * 40
    write_bytes(media, path, "cam", payload)
    assert read_bytes(media, path) == payload
    assert media.size(path) == len(payload)
    with media.open(path) as reader:
        assert reader.seekable()
        reader.seek(5000)
        assert reader.read(10) == payload[5000:5010]
        assert reader.seek(0, io.SEEK_END) == len(payload)
    assert not part_of(path).exists()


def test_a_writer_is_not_seekable_and_an_exception_leaves_nothing(
    media: MediaIO, data_dir: Path
) -> None:
    path = data_dir / "clips" / "cam" / "x.mp4"

    def fail_midway() -> None:
        with media.create(path, "cam") as writer:
            assert not writer.seekable()
            writer.write(b"half")
            assert part_of(path).exists()
            assert not path.exists()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_midway()
    assert not path.exists()
    assert not part_of(path).exists()
    writer = media.create(path, "cam")
    writer.write(b"x")
    writer.abort()
    assert list(path.parent.iterdir()) == []


def test_pyav_writes_fragmented_mp4_through_the_seam(media: MediaIO, data_dir: Path) -> None:
    path = data_dir / "recordings" / "cam" / "seg.mp4"
    with media.create(path, "cam") as writer:
        encode_fragmented(writer).close()
    with media.open(path) as reader:
        assert count_frames(reader) == 40
    assert (plaintext_media_signatures(data_dir) == []) is media.sealed


def test_delete_removes_files_parts_and_keys_even_of_files_already_gone(
    media: MediaIO, data_dir: Path
) -> None:
    folder = data_dir / "snapshots" / "cam" / "2026-01-01"
    kept = write_bytes(media, folder / "other.jpg", "cam", b"keep")
    first = write_bytes(media, folder / "ev1.jpg", "cam", b"one")
    second = write_bytes(media, folder / "ev1-redacted.jpg", "cam", b"two")
    unfinished = media.create(folder / "ev1-thumb.jpg", "cam")
    unfinished.write(b"unfinished")  # left open: a .part
    second.unlink()  # gone from disk; a sealed key of it is still known
    listed = media.known(folder, "ev1")
    assert first in listed
    assert (second in listed) is media.sealed
    media.delete([*listed, folder / "ev1-thumb.jpg"])
    assert sorted(p.name for p in folder.iterdir()) == ["other.jpg"]
    assert media.known(folder, "ev1") == []
    assert read_bytes(media, kept) == b"keep"
    unfinished.abort()  # only closes its descriptor now


def test_a_deleted_sealed_file_cannot_be_decrypted_with_any_key(
    store: Store, data_dir: Path
) -> None:
    media = sealed_media(store, data_dir)
    path = write_bytes(media, data_dir / "clips" / "cam" / "ev.mp4", "cam", b"secret" * 500)
    copy = data_dir.parent / "copy.bin"
    copy.write_bytes(path.read_bytes())
    media.delete([path])
    keyring = media.vault.keyring
    assert not path.exists()
    with pytest.raises(NoMediaKey):
        media.open(path)
    for blob in keyring.blob_ids():
        with pytest.raises(SealedError):
            SealedReader(copy, keyring.media_key(blob)).close()


def test_salvage_keeps_the_whole_fragments_of_a_killed_writer(
    media: MediaIO, data_dir: Path
) -> None:
    path = data_dir / "recordings" / "cam" / "seg.mp4"
    writer = media.create(path, "cam")
    encode_fragmented(writer, frames=60).close()  # the muxer is done; the file never finished
    # Sealed: the unsealed tail chunk is lost; plain: cut the file mid-fragment as a kill would.
    part = part_of(path)
    if not media.sealed:
        part.write_bytes(part.read_bytes()[:-100])
    kept = media.salvage(part)
    writer.abort()  # the dead writer's descriptor; its file is the finished one now
    assert kept > 0
    assert not part.exists()
    with media.open(path) as reader:
        assert 0 < count_frames(reader) <= 60


@pytest.mark.parametrize("head", [b"\x00\x00", b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00" * 200])
def test_salvage_of_no_whole_fragment_removes_the_part(
    media: MediaIO, data_dir: Path, head: bytes
) -> None:
    # Nothing whole, or whole boxes but no media data (a moov and no mdat: no frames).
    path = data_dir / "recordings" / "cam" / "seg.mp4"
    writer = media.create(path, "cam")
    writer.write(head * 4)
    writer.flush()
    assert media.salvage(part_of(path)) == 0
    writer.abort()
    assert list(path.parent.iterdir()) == []


def test_sealed_files_of_an_unowned_camera_move_to_the_household_that_takes_it(
    store: Store, data_dir: Path
) -> None:
    owners: dict[str, int] = {}
    media = sealed_media(store, data_dir, owners)
    clip = write_bytes(media, data_dir / "clips" / "porch" / "ev.mp4", "porch", b"a")
    other = write_bytes(media, data_dir / "clips" / "yard" / "ev.mp4", "yard", b"b")
    keyring = media.vault.keyring
    assert keyring.blob_ids(household_id=UNOWNED) == ["clips/porch/ev.mp4", "clips/yard/ev.mp4"]
    owners["porch"] = 7  # e.g. the first owner's setup: nothing tells the media I/O
    write_bytes(media, data_dir / "clips" / "porch" / "ev2.mp4", "porch", b"c")
    assert keyring.blob_ids(household_id=7) == ["clips/porch/ev.mp4", "clips/porch/ev2.mp4"]
    assert keyring.blob_ids(household_id=UNOWNED) == ["clips/yard/ev.mp4"]
    assert read_bytes(media, clip) == b"a"
    assert media.rehome_camera("yard", 8) == 1
    assert read_bytes(media, other) == b"b"


def test_settle_destroys_keys_of_vanished_files(store: Store, data_dir: Path) -> None:
    media = sealed_media(store, data_dir)
    path = write_bytes(media, data_dir / "clips" / "cam" / "ev.mp4", "cam", b"a")
    path.unlink()
    media.settle()
    assert media.vault.keyring.blob_ids() == []


def test_plain_delete_reports_a_file_it_cannot_remove(data_dir: Path) -> None:
    folder = data_dir / "clips"
    folder.mkdir()
    (folder / "dir.mp4").mkdir()  # unlink() of a directory fails
    with pytest.raises(StoreError):
        PlainMedia().delete([folder / "dir.mp4"])
