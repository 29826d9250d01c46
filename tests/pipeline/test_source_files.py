"""What ``analyze`` accepts (pipeline/source/files.py): one regular video file. Streams, FIFOs,
devices, kernel files, still images, tiny videos and MP4s cut before their index are refused
with one line saying what the input is (issue 14, item 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hearthcam.config import SourceConfig
from hearthcam.errors import SourceError, SourceUnreadable
from hearthcam.pipeline.source import check_video_file
from tests.support.bad_media import cut, index_last, still_jpeg, write_video

CFG = SourceConfig(connect_timeout=1.0, read_timeout=1.0)


def refusal(path: str | Path) -> str:
    with pytest.raises(SourceError) as info:
        check_video_file(str(path), CFG)
    return str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/live.mp4", "rtsp://admin:hunter2@cam.lan/stream", "pipe:0", "/dev/video0"],
)
def test_streams_and_devices_are_for_run(url: str) -> None:
    message = refusal(url)
    assert "analyze reads video files; cameras and streams" in message
    assert "`hearthcam run`" in message
    assert "hunter2" not in message


def test_a_fifo_is_not_a_regular_video_file(tmp_path: Path) -> None:
    fifo = tmp_path / "camera.mp4"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block for ever
    assert refusal(fifo) == f"{fifo}: not a regular video file (a named pipe)"


@pytest.mark.parametrize(
    ("path", "what"),
    [("/dev/zero", "a device"), ("/proc/self/mem", "a kernel file in /proc")],
)
def test_devices_and_kernel_files_are_not_regular_video_files(path: str, what: str) -> None:
    message = refusal(path)
    assert message == f"{path}: not a regular video file ({what})"
    assert "empty" not in message


def test_an_empty_file_is_still_called_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert refusal(empty) == f"{empty}: the file is empty (0 bytes)"


def test_a_still_image_is_not_a_video(tmp_path: Path) -> None:
    photo = still_jpeg(tmp_path / "porch.jpg")
    with pytest.raises(SourceUnreadable) as info:
        check_video_file(str(photo), CFG)
    assert str(info.value) == f"{photo}: a still image (mjpeg, 320x240), not a video"


def test_a_2x2_video_is_refused_with_its_size(tmp_path: Path) -> None:
    tiny = write_video(tmp_path / "tiny.mp4", frames=20, size=(2, 2), codec="mpeg4")
    assert refusal(tiny) == (
        f"{tiny}: the video is 2x2 pixels, smaller than the detector can use (at least 64x64)"
    )


@pytest.mark.parametrize("fraction", [0.9, 0.97])
def test_an_mp4_cut_before_or_inside_its_index_says_it_ends_early(
    tmp_path: Path, fraction: float
) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=40)
    assert index_last(whole)
    short = cut(whole, tmp_path / "cut.mp4", fraction)
    message = refusal(short)
    assert message.startswith(
        f"{short}: file ends early at byte {short.stat().st_size} (truncated?)"
    )
    assert "index (moov)" in message
    assert "codec" not in message


def test_a_good_file_and_a_name_with_a_colon_pass(tmp_path: Path) -> None:
    video = write_video(tmp_path / "front 10:00.mp4", frames=10)
    info = check_video_file(str(video), CFG)
    assert (info.width, info.height, info.codec) == (320, 240, "h264")
    assert info.demuxer is not None
    assert info.demuxer.startswith("mov")
