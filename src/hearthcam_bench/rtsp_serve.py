"""A tiny RTSP server for the tests and benchmarks: GStreamer's GstRtspServer on 127.0.0.1.

Run as a script with the system Python (it needs ``gi``; it imports nothing of hearthcam)::

    /usr/bin/python3 src/hearthcam_bench/rtsp_serve.py --port 8554 --mount cam
    /usr/bin/python3 src/hearthcam_bench/rtsp_serve.py --port 8554 --mount "clip=( filesrc ...)"

Each ``--mount NAME`` serves a live test pattern (a bouncing ball, 320x240, 10 fps, H.264 with a
keyframe every second); ``--mount NAME=LAUNCH`` serves a launch line of your own (its payloader must
be named ``pay0``). Prints ``READY <port>`` once it listens, and serves until killed.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Any


def _gst() -> tuple[ModuleType, ModuleType, ModuleType]:
    """GLib, Gst and GstRtspServer, imported when the server runs: the module itself imports
    with any Python (the venv has no ``gi``; the package's modules are all imported by a test)."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    return GLib, Gst, GstRtspServer


DEFAULT_LAUNCH = (
    "( videotestsrc is-live=true pattern=ball "
    "! video/x-raw,width=320,height=240,framerate=10/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def parse_mount(spec: str) -> tuple[str, str]:
    """Splits ``NAME`` or ``NAME=LAUNCH`` into a mount path and a launch line."""
    name, _, launch = spec.partition("=")
    return "/" + name.strip("/"), launch.strip() or DEFAULT_LAUNCH


def build_server(port: int, mounts: list[str]) -> Any:
    """Creates a server (a ``GstRtspServer.RTSPServer``) on 127.0.0.1:port with one media
    factory per mount."""
    _, _, GstRtspServer = _gst()
    server = GstRtspServer.RTSPServer()
    # Loopback only: tests must never expose a port to the network.
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    points = server.get_mount_points()
    for spec in mounts:
        path, launch = parse_mount(spec)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        # One pipeline for all clients of a mount, like a real camera's single encoder.
        factory.set_shared(True)
        points.add_factory(path, factory)
    return server


def main() -> int:
    """Parses arguments, starts the server and runs the GLib main loop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", action="append", default=[], help="NAME or NAME=LAUNCH")
    args = parser.parse_args()
    GLib, Gst, _ = _gst()
    Gst.init(None)
    server = build_server(args.port, args.mount or ["cam"])
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(f"READY {args.port}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
