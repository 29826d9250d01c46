"""Shared fixtures: tiny generated H.264 clips and a real RTSP server (GStreamer) on loopback."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hearthcam.scenes import VTEST, Part, Span, write_scene
from hearthcam_bench import rtsp
from hearthcam_bench.broker import free_port, port_answers
from tests.support.required import require

__all__ = ["free_port", "port_answers"]  # other test modules take them from here

# The store fixtures (data_dir, store) of the store, vault and view-log tests; pytester runs the
# small pytest sessions of tests/test_required.py.
pytest_plugins = ["tests.support.store_fixtures", "pytester"]


ClipFactory = Callable[..., Path]


def write_clip(
    path: Path,
    seconds: float = 4.0,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    gop: int | None = None,
    bframes: int = 0,
) -> Path:
    """Writes an H.264 MP4 of a moving test pattern with a keyframe every ``gop`` frames."""
    width, height = size
    keyint = gop or fps
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes={bframes}",
            },
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        columns = np.arange(width, dtype=np.int32)[None, :]
        rows = np.arange(height, dtype=np.int32)[:, None]
        for i in range(round(seconds * fps)):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[:, :, 0] = (columns + 4 * i) % 256
            image[:, :, 1] = (rows + 2 * i) % 256
            x = (7 * i) % (width - 20)
            image[height // 2 : height // 2 + 20, x : x + 20] = 255
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipFactory:
    """Returns ``make(name, **write_clip options) -> Path`` writing clips under tmp_path."""

    def make(
        name: str = "clip.mp4",
        seconds: float = 4.0,
        fps: int = 10,
        size: tuple[int, int] = (320, 240),
        gop: int | None = None,
        bframes: int = 0,
    ) -> Path:
        return write_clip(tmp_path / name, seconds, fps, size, gop, bframes)

    return make


class RtspServer:
    """A GstRtspServer subprocess that can be stopped and restarted on the same port."""

    def __init__(self, mounts: list[str], log: Path, port: int | None = None) -> None:
        self.mounts = mounts
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.log = log

    def url(self, mount: str | None = None) -> str:
        """The rtsp:// URL of a mount (the first one by default)."""
        name = (mount or self.mounts[0]).partition("=")[0]
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self, timeout: float = 15.0) -> None:
        """Starts the server and waits until its port answers."""
        command = [rtsp.SYSTEM_PYTHON, str(rtsp.SCRIPT), "--port", str(self.port)]
        for mount in self.mounts:
            command += ["--mount", mount]
        # stderr goes to a file: an unread pipe would block a chatty server once it fills.
        # The child keeps its own descriptor, so ours is closed straight away.
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while not port_answers(self.port):
            if self._process.poll() is not None:
                self._process = None
                error = self.log.read_text(errors="replace")
                raise RuntimeError(f"RTSP server exited: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"RTSP server did not listen on {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kills the server, as a camera losing power would drop off."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections stay open, no data flows (a hung camera)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreezes a paused server."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Starts the server again on the same port."""
        self.stop()
        self.start()


def _gst_available() -> bool:
    """Whether the system Python can run GstRtspServer."""
    return rtsp.available() is None


@pytest.fixture(scope="session")
def gst_available() -> bool:
    """Checked once per run: RTSP tests need it (they skip without it, and fail under CI)."""
    return _gst_available()


@pytest.fixture
def rtsp_servers(gst_available: bool, tmp_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Returns ``start(*mounts) -> RtspServer``; every server started is stopped afterwards."""
    require(
        gst_available,
        "GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not installed",
    )
    servers: list[RtspServer] = []

    def start(*mounts: str) -> RtspServer:
        server = RtspServer(list(mounts) or ["cam"], tmp_path / f"rtsp-{len(servers)}.log")
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def rtsp_server(rtsp_servers: Callable[..., RtspServer]) -> RtspServer:
    """One running server with a live test pattern at /cam."""
    return rtsp_servers("cam")


# --- short scenes from real footage (hearthcam.scenes), built once per test session --------------


@dataclass(frozen=True)
class SceneFile:
    """A scene video written by ``scenes.write_scene`` and the spans it reported."""

    path: Path
    spans: list[Span]

    def span(self, part: Part) -> Span:
        """The first span showing ``part``."""
        return next(s for s in self.spans if s.part is part)


def _scene(
    factory: pytest.TempPathFactory, name: str, script: list[tuple[Part, float]]
) -> SceneFile:
    require(
        VTEST.is_file(), f"{VTEST} is missing (Debian opencv-doc; scripts/setup.sh installs it)"
    )
    path = factory.mktemp("scenes") / f"{name}.mp4"
    return SceneFile(path, write_scene(path, script))


@pytest.fixture(scope="session")
def people_scene(tmp_path_factory: pytest.TempPathFactory) -> SceneFile:
    """26 s: quiet, 6 s of real pedestrians (vtest.avi), quiet; long enough for a 20 s clip."""
    return _scene(tmp_path_factory, "people", [(Part.QUIET, 6), (Part.PEOPLE, 6), (Part.QUIET, 14)])


@pytest.fixture(scope="session")
def pet_scene(tmp_path_factory: pytest.TempPathFactory) -> SceneFile:
    """18 s: quiet, the cat crossing the empty walkway for 8 s, quiet."""
    return _scene(tmp_path_factory, "pet", [(Part.QUIET, 2), (Part.PET, 8), (Part.QUIET, 8)])


@pytest.fixture(scope="session")
def light_scene(tmp_path_factory: pytest.TempPathFactory) -> SceneFile:
    """18 s: quiet, a slow 10 s light change over the empty walkway, quiet."""
    return _scene(tmp_path_factory, "light", [(Part.QUIET, 2), (Part.LIGHT, 10), (Part.QUIET, 6)])
