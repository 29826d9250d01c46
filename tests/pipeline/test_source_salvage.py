"""Reading what is left of an MP4 cut before its index (pipeline/source/salvage.py): the H.264
in its media data, remuxed at the stream's own rate (issue 14, item 14)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from hearthcam.pipeline.source import salvage_h264
from tests.support.bad_media import before_index, cut, index_last, still_jpeg, write_video


def decoded(path: Path) -> tuple[int, float]:
    """(frames, seconds) of a video, by decoding it."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        assert container.duration is not None
        return len(frames), container.duration / av.time_base


def test_a_camera_recording_cut_at_90_percent_gives_back_its_frames(tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=100, fps=10, in_band=True)
    assert index_last(whole)
    short = cut(whole, tmp_path / "cut.mp4", 0.9)
    with pytest.raises(av.error.FFmpegError):  # what every demuxer sees
        av.open(str(short)).close()
    salvaged = salvage_h264(short, tmp_path / "salvaged.mp4")
    assert salvaged is not None
    assert salvaged.fps == 10.0  # the stream's own timing, not a guess
    assert not salvaged.assumed_fps
    frames, seconds = decoded(salvaged.path)
    assert frames == salvaged.frames
    assert 80 <= frames <= 100
    assert seconds == pytest.approx(frames / 10, abs=0.15)
    assert not salvaged.path.with_suffix(".h264").exists()  # the raw stream is cleaned up


def test_parameter_sets_left_in_a_cut_index_are_used(tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=40, fps=10)  # SPS/PPS only in avcC
    data = whole.read_bytes()
    inside_index = data.index(b"avcC") + 120  # the cut leaves the sample description
    short = tmp_path / "cut.mp4"
    short.write_bytes(data[:inside_index])
    salvaged = salvage_h264(short, tmp_path / "salvaged.mp4")
    assert salvaged is not None
    assert decoded(salvaged.path)[0] == 40


@pytest.mark.parametrize("kind", ["no parameter sets", "mpeg4", "a jpeg", "noise"])
def test_nothing_to_read_is_none(kind: str, tmp_path: Path) -> None:
    if kind == "no parameter sets":  # x264's headers live only in the index, all of it lost
        source = before_index(write_video(tmp_path / "w.mp4", frames=40), tmp_path / "c.mp4")
    elif kind == "mpeg4":
        whole = write_video(tmp_path / "w.mp4", frames=40, codec="mpeg4")
        source = cut(whole, tmp_path / "c.mp4", 0.8)
    elif kind == "a jpeg":
        source = still_jpeg(tmp_path / "still.jpg")
    else:
        source = tmp_path / "noise.mp4"
        source.write_bytes(bytes(range(256)) * 64)
    assert salvage_h264(source, tmp_path / "salvaged.mp4") is None
