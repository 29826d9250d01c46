"""The sealed file format: round trips, random access, every kind of tampering, PyAV in and out."""

from __future__ import annotations

import io
import os
import random
import struct
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from hearthcam.errors import StoreError
from hearthcam.vault.sealed import (
    HEADER_SIZE,
    TAG_SIZE,
    SealedError,
    SealedReader,
    SealedTruncated,
    SealedWriter,
    media_signature,
    new_key,
    part_path,
    plaintext_media_signatures,
    salvage,
    whole_boxes,
)
from tests.conftest import write_clip

CHUNK = 1024  # small chunks: many of them in little data
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


def seal(path: Path, key: bytes, data: bytes, chunk: int = CHUNK, pieces: int = 7) -> Path:
    """Writes ``data`` sealed, in uneven pieces (so chunk boundaries fall inside writes)."""
    rng = random.Random(len(data))
    with SealedWriter(path, key, chunk_size=chunk) as writer:
        done = 0
        while done < len(data):
            step = rng.randint(1, max(1, 2 * len(data) // pieces))
            assert writer.write(data[done : done + step]) == len(data[done : done + step])
            done += step
        assert writer.tell() == len(data)
    return path


def chunk_span(index: int, chunk: int = CHUNK) -> slice:
    """Where chunk ``index``'s ciphertext lies in the file."""
    start = HEADER_SIZE + index * (chunk + TAG_SIZE)
    return slice(start, start + chunk + TAG_SIZE)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 17, 3 * 1024 * 1024 + 5]
)
def test_round_trip_of_every_size(tmp_path: Path, size: int) -> None:
    key, data = new_key(), os.urandom(size)
    path = seal(tmp_path / "blob", key, data)
    assert not part_path(path).exists()
    chunks = max(1, -(-size // CHUNK))
    assert path.stat().st_size == HEADER_SIZE + size + chunks * TAG_SIZE
    with SealedReader(path, key) as reader:
        assert reader.size == size
        assert reader.finished
        assert reader.read() == data
        assert reader.read(10) == b""


def test_default_chunk_size_round_trip(tmp_path: Path) -> None:
    key, data = new_key(), os.urandom(200_000)
    with SealedWriter(tmp_path / "blob", key) as writer:
        writer.write(data)
    with SealedReader(tmp_path / "blob", key) as reader:
        assert reader.read() == data


def test_random_seeks_and_reads_match_the_plaintext(tmp_path: Path) -> None:
    key, data = new_key(), os.urandom(37 * CHUNK + 123)
    path = seal(tmp_path / "blob", key, data)
    rng = random.Random(4)
    with SealedReader(path, key) as reader:
        for _ in range(400):
            start = rng.randrange(len(data) + 50)
            length = rng.choice([0, 1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 10_000])
            assert reader.seek(start) == start
            assert reader.read(length) == data[start : start + length]
            assert reader.tell() == min(len(data), start + length) if start < len(data) else start
        assert reader.seek(-10, io.SEEK_END) == len(data) - 10
        assert reader.read() == data[-10:]
        reader.seek(5)
        assert reader.seek(3, io.SEEK_CUR) == 8
        buffer = bytearray(CHUNK + 3)
        assert reader.readinto(buffer) == CHUNK + 3
        assert bytes(buffer) == data[8 : 8 + CHUNK + 3]
        with pytest.raises(ValueError, match="negative"):
            reader.seek(-1)


def test_buffered_reader_on_top_works(tmp_path: Path) -> None:
    key, data = new_key(), os.urandom(9 * CHUNK)
    path = seal(tmp_path / "blob", key, data)
    with io.BufferedReader(SealedReader(path, key), buffer_size=300) as buffered:
        assert buffered.read(5000) == data[:5000]
        buffered.seek(7000)
        assert buffered.read() == data[7000:]


def test_no_plaintext_on_disk_and_a_new_nonce_prefix_per_file(tmp_path: Path) -> None:
    key, data = new_key(), b"A" * 10 * CHUNK
    first = seal(tmp_path / "one", key, data).read_bytes()
    second = seal(tmp_path / "two", key, data).read_bytes()
    assert b"AAAAAAAA" not in first
    assert first[HEADER_SIZE:] != second[HEADER_SIZE:]  # same key, same data: other ciphertext


# Tampering -----------------------------------------------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """A sealed file of 6 full chunks and a short one, its key and its plaintext."""
    key, data = new_key(), os.urandom(6 * CHUNK + 100)
    return seal(tmp_path / "blob", key, data), key, data


def test_wrong_key_is_refused_at_open(sealed: tuple[Path, bytes, bytes]) -> None:
    path, _key, _data = sealed
    with pytest.raises(SealedError, match="final chunk fails"):
        SealedReader(path, new_key())


@pytest.mark.parametrize("offset", [0, 9, 12, HEADER_SIZE - 1, HEADER_SIZE + 5, -1, -TAG_SIZE - 3])
def test_a_flipped_bit_anywhere_is_refused(sealed: tuple[Path, bytes, bytes], offset: int) -> None:
    path, key, _data = sealed
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x04
    path.write_bytes(raw)
    with pytest.raises(SealedError), SealedReader(path, key) as reader:
        reader.read()


def test_swapped_chunks_are_refused_when_read(sealed: tuple[Path, bytes, bytes]) -> None:
    path, key, data = sealed
    raw = bytearray(path.read_bytes())
    one, two = raw[chunk_span(1)], raw[chunk_span(2)]
    raw[chunk_span(1)], raw[chunk_span(2)] = two, one
    path.write_bytes(raw)
    with SealedReader(path, key) as reader:
        assert reader.read(CHUNK) == data[:CHUNK]  # chunk 0 is untouched
        with pytest.raises(SealedError, match="chunk 1"):
            reader.read(CHUNK)


def test_a_file_cut_at_a_chunk_boundary_is_truncated(sealed: tuple[Path, bytes, bytes]) -> None:
    path, key, _data = sealed
    raw = path.read_bytes()
    path.write_bytes(raw[: chunk_span(4).stop])
    with pytest.raises(SealedTruncated):
        SealedReader(path, key)


@pytest.mark.parametrize("cut", [1, TAG_SIZE, CHUNK // 2])
def test_a_file_cut_inside_a_chunk_is_refused(sealed: tuple[Path, bytes, bytes], cut: int) -> None:
    path, key, _data = sealed
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(SealedError):
        SealedReader(path, key)


def test_header_only_and_empty_files_are_refused(sealed: tuple[Path, bytes, bytes]) -> None:
    path, key, _data = sealed
    header = path.read_bytes()[:HEADER_SIZE]
    path.write_bytes(header)
    with pytest.raises(SealedError, match="no chunks"):
        SealedReader(path, key)
    path.write_bytes(b"")
    with pytest.raises(SealedError, match="not a sealed file"):
        SealedReader(path, key)
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(SealedError, match="not a sealed file"):
        SealedReader(path, key)


@pytest.mark.parametrize("extra", ["copy of a chunk", "copy of the last", "garbage", "one byte"])
def test_anything_appended_is_refused(sealed: tuple[Path, bytes, bytes], extra: str) -> None:
    path, key, _data = sealed
    raw = path.read_bytes()
    appended = {
        "copy of a chunk": raw[chunk_span(2)],
        "copy of the last": raw[chunk_span(6).start :],
        "garbage": os.urandom(CHUNK + TAG_SIZE),
        "one byte": b"\x00",
    }[extra]
    path.write_bytes(raw + appended)
    with pytest.raises(SealedError):
        SealedReader(path, key)


def test_a_chunk_from_another_file_of_the_same_key_is_refused(tmp_path: Path) -> None:
    key = new_key()
    one = seal(tmp_path / "one", key, os.urandom(4 * CHUNK))
    two = seal(tmp_path / "two", key, os.urandom(4 * CHUNK))
    raw = bytearray(one.read_bytes())
    raw[chunk_span(1)] = two.read_bytes()[chunk_span(1)]
    one.write_bytes(raw)
    with SealedReader(one, key) as reader, pytest.raises(SealedError, match="chunk 1"):
        reader.read()


def test_a_changed_chunk_size_in_the_header_is_refused(sealed: tuple[Path, bytes, bytes]) -> None:
    path, key, _data = sealed
    raw = bytearray(path.read_bytes())
    raw[12:16] = struct.pack(">I", CHUNK * 2)
    path.write_bytes(raw)
    with pytest.raises(SealedError):
        SealedReader(path, key)


# The writer ----------------------------------------------------------------------------------


def test_the_writer_works_in_a_part_file_and_aborts_on_error(tmp_path: Path) -> None:
    key, path = new_key(), tmp_path / "sub" / "blob"
    writer = SealedWriter(path, key, chunk_size=CHUNK)

    def fail_halfway() -> None:
        with writer:
            writer.write(os.urandom(3 * CHUNK))
            assert writer.part.exists()
            assert not path.exists()
            assert writer.part.stat().st_mode & 0o777 == 0o600
            raise RuntimeError("camera gone")

    with pytest.raises(RuntimeError, match="camera gone"):
        fail_halfway()
    assert not path.exists()
    assert not part_path(path).exists()
    writer.close()  # closing an aborted writer does nothing
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"x")


def test_a_failed_commit_hook_drops_the_file_and_runs_the_abort_hook(tmp_path: Path) -> None:
    aborted: list[bool] = []

    def refuse() -> None:
        raise StoreError("database gone")

    writer = SealedWriter(
        tmp_path / "blob", new_key(), on_commit=refuse, on_abort=lambda: aborted.append(True)
    )
    writer.write(b"data")
    with pytest.raises(StoreError, match="database gone"):
        writer.close()
    assert aborted == [True]
    assert list(tmp_path.iterdir()) == []


def test_the_writer_refuses_to_seek_and_says_so(tmp_path: Path) -> None:
    with SealedWriter(tmp_path / "blob", new_key()) as writer:
        assert writer.writable()
        assert not writer.seekable()
        assert not writer.readable()
        with pytest.raises(io.UnsupportedOperation):
            writer.seek(0)
        writer.flush()
    assert writer.closed


def test_bad_keys_and_chunk_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SealedWriter(tmp_path / "blob", b"short")
    with pytest.raises(ValueError, match="chunk size"):
        SealedWriter(tmp_path / "blob", new_key(), chunk_size=8)
    assert not part_path(tmp_path / "blob").exists()


def test_the_writer_replaces_a_stale_part(tmp_path: Path) -> None:
    key, path = new_key(), tmp_path / "blob"
    part_path(path).write_bytes(b"left by a killed writer")
    seal(path, key, b"fresh")
    with SealedReader(path, key) as reader:
        assert reader.read() == b"fresh"


# Unfinished files and salvage ------------------------------------------------------------------


KilledWriter = Callable[[Path, bytes, bytes], Path]


@pytest.fixture
def killed_writer() -> Iterator[KilledWriter]:
    """``kill(path, key, data) -> .part`` as a writer killed after writing ``data`` leaves it."""
    dead: list[SealedWriter] = []

    def kill(path: Path, key: bytes, data: bytes) -> Path:
        writer = SealedWriter(path, key, chunk_size=CHUNK)
        writer.write(data)
        dead.append(writer)
        return writer.part

    yield kill
    for writer in dead:  # only now are their descriptors closed (the .part is gone by then)
        if writer._fd is not None:
            os.close(writer._fd)
            writer._fd = None


def test_an_unfinished_part_reads_to_its_last_whole_chunk(
    tmp_path: Path, killed_writer: KilledWriter
) -> None:
    key, data = new_key(), os.urandom(5 * CHUNK + 300)
    part = killed_writer(tmp_path / "seg.mp4", key, data)
    with pytest.raises(SealedTruncated):
        SealedReader(part, key)
    with SealedReader(part, key, unfinished=True) as reader:
        assert not reader.finished
        assert reader.size == 5 * CHUNK  # the 6th chunk was still in memory
        assert reader.read() == data[: 5 * CHUNK]
    with pytest.raises(ValueError, match=r"only a \.part"):
        SealedReader(tmp_path / "seg.mp4", key, unfinished=True)


def test_a_torn_last_chunk_is_dropped(tmp_path: Path, killed_writer: KilledWriter) -> None:
    key, data = new_key(), os.urandom(4 * CHUNK + 1)
    part = killed_writer(tmp_path / "seg.mp4", key, data)
    raw = part.read_bytes()
    part.write_bytes(raw[: chunk_span(3).start + 100])  # chunk 3 half on disk
    with SealedReader(part, key, unfinished=True) as reader:
        assert reader.read() == data[: 3 * CHUNK]
    with pytest.raises(SealedError, match="no whole chunk"):
        SealedReader(part, new_key(), unfinished=True)


def test_salvage_seals_the_whole_chunks_as_a_finished_file(
    tmp_path: Path, killed_writer: KilledWriter
) -> None:
    key, data = new_key(), os.urandom(7 * CHUNK + 9)
    part = killed_writer(tmp_path / "seg.mp4", key, data)
    assert salvage(part, key, keep=6 * CHUNK + 10) == 6 * CHUNK + 10
    assert not part.exists()
    assert not list(tmp_path.glob("*.salvage"))
    with SealedReader(tmp_path / "seg.mp4", key) as reader:
        assert reader.finished
        assert reader.read() == data[: 6 * CHUNK + 10]


def test_salvage_of_a_complete_part_renames_it_and_of_nothing_removes_it(
    tmp_path: Path, killed_writer: KilledWriter
) -> None:
    key, data = new_key(), os.urandom(3 * CHUNK)
    writer = SealedWriter(tmp_path / "a.mp4", key, chunk_size=CHUNK)
    writer.write(data)
    writer._seal(writer._open_fd(), writer._pending, last=True)  # died just before the rename
    assert salvage(writer.part, key) == len(data)
    with SealedReader(tmp_path / "a.mp4", key) as reader:
        assert reader.read() == data
    empty = killed_writer(tmp_path / "b.mp4", key, b"x" * 10)
    assert salvage(empty, key) == 0
    assert not empty.exists()
    assert not (tmp_path / "b.mp4").exists()


# PyAV through the sealed files -------------------------------------------------------------------


def encode_fragmented(output: object, frames: int = 40) -> Any:
    """Encodes a moving pattern as fragmented H.264 MP4 into a file-like; returns the open
    container (``with`` it to close it)."""
    container = av.open(output, "w", format="mp4", options=FRAGMENTED)
    stream = container.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    stream.codec_context.gop_size = 10
    for i in range(frames):
        image = np.zeros((120, 160, 3), np.uint8)
        image[:, (4 * i) % 140 : (4 * i) % 140 + 20] = 255
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 10)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    return container


def count_frames(source: Any) -> int:
    """Frames decoded from a path or a file-like."""
    with av.open(source, "r") as container:
        return sum(1 for _ in container.decode(video=0))


def test_pyav_writes_fragmented_mp4_into_a_sealed_file_and_decodes_it_back(
    tmp_path: Path,
) -> None:
    key = new_key()
    with SealedWriter(tmp_path / "seg.mp4", key, chunk_size=4096) as writer:
        encode_fragmented(writer).close()
    assert plaintext_media_signatures(tmp_path) == []
    with SealedReader(tmp_path / "seg.mp4", key) as reader:
        assert count_frames(reader) == 40
        reader.seek(0)
        plain = reader.read()
    assert media_signature(plain[:4096], len(plain)) == "mp4 (ftyp)"


def test_pyav_demuxes_a_sealed_copy_of_a_plain_mp4_with_seeks(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "plain.mp4", seconds=3.0)  # moov at the end: demuxer seeks
    key = new_key()
    seal(tmp_path / "sealed.mp4", key, clip.read_bytes(), chunk=4096)
    with SealedReader(tmp_path / "sealed.mp4", key) as reader:
        assert count_frames(reader) == count_frames(str(clip)) == 30
        reader.seek(0)
        with av.open(reader, "r") as container:
            container.seek(2 * 1_000_000)  # microseconds, AV_TIME_BASE
            assert next(container.decode(video=0)).time >= 1.0


def test_a_plain_mp4_muxer_is_refused_by_the_unseekable_writer(tmp_path: Path) -> None:
    def mux_plain_mp4() -> None:
        writer = SealedWriter(tmp_path / "seg.mp4", new_key())
        with writer, av.open(writer, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()

    with pytest.raises(av.FFmpegError, match="Invalid argument"):
        mux_plain_mp4()
    assert not (tmp_path / "seg.mp4").exists()


def test_a_killed_recorders_fragmented_part_salvages_to_a_playable_prefix(tmp_path: Path) -> None:
    key = new_key()
    writer = SealedWriter(tmp_path / "seg.mp4", key, chunk_size=4096)
    container = encode_fragmented(writer, frames=100)
    part = writer.part  # never closed: the process "died"
    with SealedReader(part, key, unfinished=True) as reader:
        keep = whole_boxes(reader)
        assert 0 < keep < reader.size  # the last fragment was cut
    assert salvage(part, key, keep=keep) == keep
    container.close()  # the dead process's trailer goes to the unlinked .part
    writer.abort()
    with SealedReader(tmp_path / "seg.mp4", key) as reader:
        frames = count_frames(reader)
    assert 10 <= frames < 100


# The plaintext scan ------------------------------------------------------------------------------


def test_the_scan_finds_plain_media_and_not_sealed_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "clips" / "cam").mkdir(parents=True)
    clip = write_clip(data / "clips" / "cam" / "plain.mp4", seconds=1.0)
    (data / "snap.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(500))
    (data / "in-the-middle").write_bytes(
        os.urandom(700) + b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(99)
    )
    (data / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(50))
    (data / "live.webm").write_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm")
    (data / "frag").write_bytes(os.urandom(100) + struct.pack(">I", 24) + b"moof" + bytes(16))
    key = new_key()
    seal(data / "clips" / "cam" / "sealed.mp4", key, clip.read_bytes())
    (data / "random").write_bytes(os.urandom(50_000))
    (data / "empty").write_bytes(b"")
    (data / "link.mp4").symlink_to(clip)
    found = plaintext_media_signatures(data)
    assert [p.relative_to(data).as_posix() for p in found] == [
        "clips/cam/plain.mp4",
        "frag",
        "in-the-middle",
        "live.webm",
        "pic.png",
        "snap.jpg",
    ]


def test_a_jpeg_inside_a_file_is_found_by_its_header_not_by_its_three_start_bytes() -> None:
    ok, jpeg = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    assert ok
    noise = random.Random(7).randbytes(700)
    assert media_signature(noise + jpeg.tobytes(), 10_000) == "jpeg"
    exif = b"\xff\xd8\xff\xe1\x00\x20Exif\x00\x00"
    assert media_signature(noise + exif + bytes(40), 10_000) == "jpeg"
    # What ciphertext holds by chance about once in 750 000 heads: a start and a DQT marker
    # followed by no quantisation table (a length no table count gives, a table id of 9).
    assert media_signature(noise + b"\xff\xd8\xff\xdb\x9c\x31\x7f" + bytes(40), 10_000) is None
    assert media_signature(noise + b"\xff\xd8\xff\xdb\x00\x43\x09" + bytes(40), 10_000) is None


def test_the_scan_does_not_flag_ciphertext(tmp_path: Path) -> None:
    key = new_key()
    for i in range(200):
        seal(tmp_path / f"blob{i}", key, os.urandom(20_000), chunk=4096)
    assert plaintext_media_signatures(tmp_path) == []
