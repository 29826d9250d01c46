"""Serving the bench's media from a real RTSP server (GStreamer's, as a camera would send it)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from hearthcam_bench.broker import free_port, port_answers

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).parent / "rtsp_serve.py"


def available() -> str | None:
    """None when an RTSP server can be started here, else what is missing (the tests ask too)."""
    missing = "GStreamer's RTSP server for the system Python (scripts/setup.sh installs it)"
    if shutil.which(SYSTEM_PYTHON) is None:
        return missing
    check = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import GstRtspServer"
    )
    probe = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, check=False)
    return missing if probe.returncode else None


def file_launch(path: Path) -> str:
    """A launch line that sends an H.264 MP4 as a camera does, at its own rate, without
    re-encoding."""
    return (
        f"( filesrc location={path} ! qtdemux ! h264parse "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


@contextlib.contextmanager
def serving(mounts: dict[str, Path], log: Path, timeout: float = 15.0) -> Iterator[str]:
    """Serves each file at ``rtsp://127.0.0.1:PORT/NAME``; yields the URL prefix."""
    port = free_port()
    command = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(port)]
    for name, path in mounts.items():
        command += ["--mount", f"{name}={file_launch(path)}"]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + timeout
        while not port_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the RTSP server did not start: {log.read_text()[-500:]}")
            time.sleep(0.05)
        yield f"rtsp://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
