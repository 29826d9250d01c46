"""A real MQTT broker for the ``alerts`` scenario and the MQTT tests: Debian's mosquitto,
started on a free loopback port with its own config, stopped (and restartable) on demand.
The loopback port helpers here are the ones the tests' other servers (RTSP) use too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"


def mosquitto_available() -> bool:
    """Whether Debian's mosquitto is installed (scripts/setup.sh installs it)."""
    return shutil.which(MOSQUITTO) is not None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """A mosquitto process on 127.0.0.1 that can be stopped and started on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.conf = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Starts the broker and waits until it accepts connections."""
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + timeout
        while not port_answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminates the broker (retained messages are lost: no persistence)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
