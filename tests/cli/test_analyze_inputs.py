"""`hearthcam analyze` on inputs it cannot or should not read to the end (issue 14, item 14): a
network stream, a FIFO, a device, a kernel file, a still image, a 2x2 video, an MP4 cut at 90 %,
and a file whose timestamps leap ten hours. Real files, real processes."""

from __future__ import annotations

import http.server
import json
import os
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from hearthcam.cli import cli
from tests.cli.test_cli import hearthcam
from tests.support.bad_media import (
    TEN_HOURS,
    before_index,
    cut,
    index_last,
    still_jpeg,
    write_video,
)


def analyze(path: str, cwd: Path) -> tuple[int, str, str]:
    """``hearthcam analyze PATH --json`` in-process, with the data directory under ``cwd``."""
    config = cwd / "config.yml"
    config.write_text(f"data_dir: {cwd / 'data'}\n")
    result = CliRunner().invoke(cli, ["analyze", path, "--json", "--config", str(config)])
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


class _EndlessStream(http.server.BaseHTTPRequestHandler):
    """Serves an MPEG-TS clip over and over, never ending: a camera's HTTP stream."""

    chunk = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        try:
            while True:
                self.wfile.write(self.chunk)
                time.sleep(0.05)
        except OSError:  # the client went away
            return

    def log_message(self, format: str, *args: object) -> None:
        """Says nothing."""


@pytest.fixture
def endless_http(tmp_path: Path) -> Iterator[str]:
    clip = write_video(tmp_path / "loop.ts", frames=20)
    handler = type("Handler", (_EndlessStream,), {"chunk": clip.read_bytes()})
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}/live.ts"
        server.shutdown()
        thread.join()


def test_an_endless_http_stream_is_refused_at_once(endless_http: str, tmp_path: Path) -> None:
    started = time.monotonic()
    done = hearthcam("analyze", endless_http, cwd=tmp_path, timeout=30)
    assert time.monotonic() - started < 25
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert f"{endless_http}: analyze reads video files" in line
    assert "`hearthcam run`" in line
    assert not (tmp_path / "hearthcam-data").exists()  # refused before anything was stored


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/proc/self/mem"])
def test_fifos_devices_and_kernel_files_are_not_regular_video_files(
    kind: str, tmp_path: Path
) -> None:
    path = kind
    if kind == "fifo":
        path = str(tmp_path / "camera.mp4")
        os.mkfifo(path)
    code, stdout, stderr = analyze(path, tmp_path)
    assert code == 2, stderr
    line = one_error_line(stderr)
    assert f"{path}: not a regular video file" in line
    assert "empty" not in line
    assert stdout == ""


def test_a_still_image_is_refused_as_not_a_video(tmp_path: Path) -> None:
    photo = still_jpeg(tmp_path / "porch.jpg")
    code, stdout, stderr = analyze(str(photo), tmp_path)
    assert code == 2, stderr
    assert "a still image (mjpeg, 320x240), not a video" in one_error_line(stderr)
    assert stdout == ""


def test_a_2x2_video_is_refused_with_its_size(tmp_path: Path) -> None:
    tiny = write_video(tmp_path / "tiny.mp4", frames=20, size=(2, 2), codec="mpeg4")
    code, _, stderr = analyze(str(tiny), tmp_path)
    assert code == 2, stderr
    line = one_error_line(stderr)
    assert "the video is 2x2 pixels, smaller than the detector can use (at least 64x64)" in line


def test_an_mp4_cut_at_90_percent_says_it_ends_early(tmp_path: Path) -> None:
    # Cut inside its index, as a 90 % cut of a small file is: it was "no decoder for video
    # codec 'unknown'"; the parameter sets the cut left are enough to read every frame.
    whole = write_video(tmp_path / "whole.mp4", frames=100)
    assert index_last(whole)
    short = cut(whole, tmp_path / "cut.mp4", 0.9)
    code, stdout, stderr = analyze(str(short), tmp_path)
    assert code == 0, stderr
    assert [json.loads(line)["verdict"] for line in stdout.splitlines()] == ["motion"]


def test_an_mp4_with_nothing_readable_left_says_it_ends_early(tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=100)
    short = before_index(whole, tmp_path / "cut.mp4")  # and x264 keeps SPS/PPS only there
    code, _, stderr = analyze(str(short), tmp_path)
    assert code == 2, stderr
    line = one_error_line(stderr)
    assert "file ends early at byte" in line
    assert "(truncated?): its index (moov) is missing" in line
    assert "nothing was analysed" in line
    assert "codec" not in line


def test_a_faststart_mp4_cut_short_is_analysed_as_far_as_it_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = write_video(tmp_path / "whole.mp4", frames=100)
    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(whole)) as source,
        av.open(str(faststart), "w", options={"movflags": "+faststart"}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    short = cut(faststart, tmp_path / "cut.mp4", 0.5)
    code, stdout, stderr = analyze(str(short), tmp_path)
    assert code == 0, stderr
    assert re.search(
        r"cut\.mp4: file ends early at [\d.]+ s of 10\.0 s \(truncated\?\)", caplog.text
    )
    assert [json.loads(line)["verdict"] for line in stdout.splitlines()] == ["motion"]


def test_a_ten_hour_timestamp_jump_splits_the_timeline_with_a_warning(tmp_path: Path) -> None:
    # A block moves all the time: 6 s before the jump, 6 s after it.
    video = write_video(tmp_path / "joined.mp4", frames=120, leap=(59, TEN_HOURS))
    done = hearthcam("analyze", video.name, "--json", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) == 2, events
    before, after = events
    assert before["end"] <= 6.0
    assert after["start"] >= TEN_HOURS
    assert all(e["end"] - e["start"] < 10 for e in events), events
    assert "timestamps jump forward by 36000.1 s at 5.9 s" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_camera_recording_cut_at_90_percent_is_analysed_as_far_as_it_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Index last and parameter sets in-band, as a camera's export: the index is lost in the
    # cut, the frames before it are not.
    whole = write_video(tmp_path / "whole.mp4", frames=100, in_band=True)
    short = cut(whole, tmp_path / "cut.mp4", 0.9)
    code, stdout, stderr = analyze(str(short), tmp_path)
    assert code == 0, stderr
    assert [json.loads(line)["verdict"] for line in stdout.splitlines()] == ["motion"]
    assert re.search(
        rf"{re.escape(str(short))}: file ends early at \d+\.\d s \(truncated\?\): its index "
        r"\(moov\) was lost, so the \d+ frames left in its media data were read as H\.264 at "
        r"10 fps",
        caplog.text,
    ), caplog.text
    assert not list(tmp_path.glob("**/salvaged*"))  # the remuxed copy went with its temp dir
