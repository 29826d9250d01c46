"""A real Ray cluster for tests and benchmarks, kept on loopback: nodes started with ``ray
start`` as separate processes (a head and workers, each declaring its CPUs), inside a network
namespace that has nothing but ``lo`` (Ray binds every interface and names a node by its
routable address; in the namespace that is 127.0.0.1, so no traffic leaves loopback).

``in_loopback_namespace`` runs a command in a new such namespace (``unshare --net``, root);
``RayNodes`` starts and stops the nodes from inside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from hearthcam_bench.broker import free_port

#: A new network namespace with loopback up; the command follows (``exec "$@"``).
LOOPBACK = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
#: Each node's object store (Ray's minimum is about 75 MB; the default would take 30 % of RAM).
OBJECT_STORE_BYTES = 100 * 1024 * 1024
RAY = str(Path(sys.executable).with_name("ray"))


def namespace_problem() -> str | None:
    """Why a loopback-only namespace cannot be made here (None: it can)."""
    try:
        done = subprocess.run(
            [*LOOPBACK, "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare --net: {error}"
    if done.returncode != 0:
        return f"unshare --net (root and util-linux, iproute2): {done.stderr.strip()}"
    return None


def ray_problem() -> str | None:
    """Why Ray cannot run here (None: it can)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray (pip install ray, scripts/setup.sh)"
    if not Path(RAY).exists():
        return f"the ray command beside {sys.executable}"
    return None


def in_loopback_namespace(
    argv: list[str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` in a new loopback-only network namespace; its output is kept."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*LOOPBACK, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )


class RayNodes:
    """A head and worker nodes on this machine (call from inside the loopback namespace)."""

    def __init__(self) -> None:
        # Short: Ray's socket paths under it must fit a Unix socket name.
        self.temp = Path(tempfile.mkdtemp(prefix="hc-ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.names: list[str] = []
        self._processes: dict[str, list[psutil.Process]] = {}

    def _start(self, name: str, *args: str, core: int | None = None) -> None:
        """``ray start``; the processes it left running are remembered as node ``name``'s.
        With ``core``, the node and every process it starts run on that CPU core only (as a
        one-core machine would: ``taskset``, inherited by the raylet's workers)."""
        common = ["--object-store-memory", str(OBJECT_STORE_BYTES), "--num-gpus", "0"]
        pinned = ["taskset", "-c", str(core)] if core is not None else []
        before = {p.pid for p in psutil.process_iter()}
        done = subprocess.run(
            [*pinned, RAY, "start", *args, "--node-name", name, *common, "--disable-usage-stats"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} failed: {done.stdout}{done.stderr}")
        self.names.append(name)
        self._processes[name] = [
            p for p in psutil.process_iter(["cmdline"])
            if p.pid not in before and _is_ray(p.info["cmdline"] or [])
        ]  # fmt: skip

    def start_head(self, cpus: int, core: int | None = None) -> None:
        self._start(
            "head", "--head", "--port", str(self.port), "--num-cpus", str(cpus),
            "--include-dashboard", "false", "--temp-dir", str(self.temp), core=core,
        )  # fmt: skip

    def add_node(self, name: str, cpus: int, core: int | None = None) -> None:
        """Another node joining the head: its own raylet, agents and (later) worker processes."""
        self._start(name, "--address", self.address, "--num-cpus", str(cpus), core=core)

    def processes(self) -> dict[str, list[psutil.Process]]:
        """Each node's live processes: those its ``ray start`` left and every one under them
        (the raylet's worker processes among them)."""
        found: dict[str, list[psutil.Process]] = {}
        for name, started in self._processes.items():
            live = found.setdefault(name, [])
            for process in started:
                with contextlib.suppress(psutil.NoSuchProcess):
                    if process.is_running():
                        live.extend([process, *process.children(recursive=True)])
        return found

    def kill(self, name: str) -> int:
        """Kills a node as a power cut would: its raylet, its agents and every process under
        them (SIGKILL). Returns how many processes died."""
        victims = self.processes().get(name, [])
        for victim in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGKILL)
        return len(victims)

    def worker_logs(self) -> str:
        """What the worker processes of every node logged (Ray writes each one's stderr to a
        file in the session's log folder, which all nodes of this machine share)."""
        logs = self.temp / "session_latest" / "logs"
        return "".join(p.read_text(errors="replace") for p in sorted(logs.glob("worker-*.err")))

    def stop(self) -> None:
        """Stops this cluster's processes only (SIGTERM, then SIGKILL after 10 s: not ``ray
        stop``, which would stop every Ray on the machine, a developer's own included) and
        removes the temp folder."""
        everyone = [p for processes in self.processes().values() for p in processes]
        for process in everyone:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        _, alive = psutil.wait_procs(everyone, timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=10)
        shutil.rmtree(self.temp, ignore_errors=True)


def _is_ray(cmdline: list[str]) -> bool:
    """Whether a process is one of Ray's (its binaries, or Python running Ray's package)."""
    first = " ".join(cmdline[:3])
    return "/ray/" in first or first.startswith(("ray::", "raylet", "gcs_server"))
