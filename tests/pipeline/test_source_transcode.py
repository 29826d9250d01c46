"""Files whose codec an MP4 cannot hold: re-encoded to H.264 before analysis, so events get clips.

Real footage: opencv-doc's tree.avi (Cinepak) and vtest.avi (MS-MPEG-4). Before, recording refused
every segment of such a file ('mp4' format does not support the codec) and every clip failed with
"no recording covers ...".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO, cast

import av
import pytest

from hearthcam import analysis
from hearthcam import app as composition
from hearthcam.config import Config
from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.source.transcode import codec_name, h264_copy, mp4_can_hold
from hearthcam.scenes import VTEST
from hearthcam.store.db import Store
from tests.conftest import write_clip
from tests.support.required import require

TREE = Path("/usr/share/doc/opencv-doc/examples/data/tree.avi")


def _frames(path: Path | BinaryIO) -> list[float]:
    with av.open(str(path) if isinstance(path, Path) else path, "r") as container:
        video = container.streams.video[0]
        return [float(f.time) for f in container.decode(video) if f.time is not None]


def test_which_codecs_an_mp4_holds(tmp_path: Path) -> None:
    require(TREE.is_file() and VTEST.is_file(), "opencv-doc's tree.avi and vtest.avi")
    assert not mp4_can_hold(str(TREE))
    assert not mp4_can_hold(str(VTEST))
    assert mp4_can_hold(str(write_clip(tmp_path / "h264.mp4", seconds=1.0)))
    assert codec_name(str(TREE)) == "cinepak"


def test_the_h264_copy_keeps_every_frame_at_its_time(tmp_path: Path) -> None:
    require(TREE.is_file(), "opencv-doc's tree.avi")
    copy = h264_copy(str(TREE), tmp_path / "tree.mp4")
    assert codec_name(str(copy)) == "h264"
    assert mp4_can_hold(str(copy))
    original, copied = _frames(TREE), _frames(copy)
    assert len(copied) == len(original) > 50  # 68 frames, at irregular times
    assert max(abs(a - b) for a, b in zip(original, copied, strict=True)) < 1e-3


def test_a_damaged_source_is_reported_and_leaves_no_copy(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"RIFF" + bytes(4000))
    with pytest.raises(SourceUnreadable, match="could not re-encode"):
        h264_copy(str(junk), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.integration
def test_analysing_a_cinepak_file_gives_events_with_clips(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require(TREE.is_file(), "opencv-doc's tree.avi")
    caplog.set_level(logging.WARNING, logger="hearthcam.analysis")
    config = Config(data_dir=tmp_path / "data")
    events = analysis.analyze(str(TREE), config)
    assert events, "tree.avi (a tree in the wind, then a hand) gives at least one event"
    with Store.open(config.database_url, data_dir=config.data_dir) as store:
        media = composition.open_media_to_read(store, config.data_dir)
        for event in events:
            assert event.clips, f"event {event.id} has no clip"
            for clip in event.clips:
                with media.open(clip) as file:
                    times = _frames(cast("BinaryIO", file))
                assert times, f"{clip} holds no frame"
    assert "cinepak" in caplog.text
    assert "re-encoding it to H.264" in caplog.text
    assert "no recording covers" not in caplog.text
