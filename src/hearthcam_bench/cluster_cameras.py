"""Cameras as Ray actors on a real cluster, with a node killed: the user's command
(``hearthcam run --cluster HEAD`` with ``cluster.cameras: true``) against RTSP cameras served by
GStreamer, a Ray head and a second node (separate ``ray start`` processes) and PostgreSQL. Run
inside a loopback-only network namespace (``raycluster.in_loopback_namespace``); used by
``tests/cluster`` and ``bench cluster``.

    python -m hearthcam_bench.cluster_cameras CONFIG.yaml SCENE.mp4 OUT.json
        [--cameras 8] [--nodes 2] [--kill worker-1] [--watch 6] [--train] [--live]
        [--detector-service] [--pin] [--sustain SECONDS]

CONFIG holds the data directory and database; the cameras (``cam0``.. all reading SCENE from
the RTSP server) and the cluster are added. The run waits until every camera has recorded two
segments, then (``--kill``) kills that node as a power cut would (its raylet, agents and the
camera actors under it), waits until each camera that ran there has a segment started after the
kill (recording again on a live node), runs ``hearthcam train`` through the server (``--train``),
watches ``--watch`` seconds more, and stops the server with SIGINT. The JSON says where each
camera ran (the actors' own log lines), what the database held before the kill and at the end
(events, segments, gaps), the times, and the server's output.

``--pin`` runs each node on a CPU core of its own (the head on core 0, the second node on core
1: ``taskset``), as separate one-core machines would; ``--sustain S`` (with an owner added
through the server) reads every camera's load from the app's System API after S seconds of
recording (the last 10 s: frames in and analysed a second, frames dropped), which
``bench cluster`` uses to find how many cameras 1 and 2 nodes keep up with.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from hearthcam.config import load_config
from hearthcam.store.db import Store
from hearthcam_bench.cluster_run import ray_own_use
from hearthcam_bench.raycluster import RayNodes
from hearthcam_bench.rtsp import serving

#: The line a camera's actor logs when it starts (``hearthcam.cluster.cameras``).
START_LINE = re.compile(r"(cam\d+): camera starts on node (\w+)")
#: The line a training task logs when it starts (``hearthcam.cluster.training``).
TRAINING_LINE = re.compile(r"training starts on node (\w+)")
#: The line a node's detector service logs when it starts (``hearthcam.cluster.detector``).
SERVICE_LINE = re.compile(r"detector service starts on node (\w+)")
#: The most a run waits for any one step, seconds.
STEP_TIMEOUT = 240.0
#: Seconds over which the camera actors' CPU is measured, once all record.
SAMPLE = 5.0


def actor_use(nodes: RayNodes) -> dict[str, dict[str, Any]]:
    """Per camera actor and detector service process (by pid): its node, kind (``camera`` or
    ``service``), RSS in MB and CPU seconds so far."""
    use: dict[str, dict[str, Any]] = {}
    for name, processes in nodes.processes().items():
        for process in processes:
            try:
                title = " ".join(process.cmdline()[:1])
                if not title.startswith(("ray::CameraWorker", "ray::DetectorService")):
                    continue
                times = process.cpu_times()
                use[str(process.pid)] = {
                    "node": name,
                    "kind": "camera" if title.startswith("ray::CameraWorker") else "service",
                    "rss_mb": process.memory_info().rss / 2**20,
                    "cpu_s": times.user + times.system,
                }
            except psutil.NoSuchProcess:
                continue
    return use


#: The owner the live-view check signs in as (made through the running server).
OWNER, PASSWORD = "owner", "a long enough household passphrase"


def watch_live(url: str, camera: str, fragments: int = 5, timeout: float = 60.0) -> dict[str, Any]:
    """Signs in as ``OWNER`` and watches ``camera`` live as the app's page does: the fMP4 stream
    over its WebSocket until the init segment and ``fragments`` media fragments came, and the
    MJPEG stream until two pictures came. What arrived, and how long it took."""
    import httpx
    from websockets.sync.client import connect

    report: dict[str, Any] = {"camera": camera}
    with httpx.Client(base_url=url, headers={"origin": url}, timeout=timeout) as client:
        login = client.post("/api/login", json={"username": OWNER, "password": PASSWORD})
        login.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        started = time.monotonic()
        ws_url = url.replace("http://", "ws://") + f"/api/live/{camera}/mse"
        mime, init, media = None, 0, 0
        with connect(ws_url, additional_headers={"Cookie": cookie, "Origin": url},
                     open_timeout=timeout) as socket:  # fmt: skip
            while media < fragments:
                message = socket.recv(timeout=timeout)
                if isinstance(message, str):
                    mime = json.loads(message).get("mime", mime)
                elif message[4:8] == b"ftyp":
                    init += 1
                elif message[4:8] == b"moof":
                    media += 1
        report["mse"] = {"mime": mime, "init": init, "fragments": media,
                         "seconds": time.monotonic() - started}  # fmt: skip
        started = time.monotonic()
        pictures = 0
        with client.stream("GET", f"/api/live/{camera}/mjpeg") as response:
            response.raise_for_status()
            for data in response.iter_bytes():
                pictures += data.count(b"\xff\xd8\xff")
                if pictures >= 2:
                    break
        report["mjpeg"] = {"pictures": pictures, "seconds": time.monotonic() - started}
    return report


def system_load(url: str) -> list[dict[str, Any]]:
    """Signs in as ``OWNER``; every camera's row of ``GET /api/system`` (its load over the last
    10 s: ``fps_in``, ``fps_analysed``, ``dropped_per_s``, ``connection`` ...)."""
    import httpx

    with httpx.Client(base_url=url, headers={"origin": url}, timeout=60) as client:
        client.post("/api/login", json={"username": OWNER, "password": PASSWORD}).raise_for_status()
        answer = client.get("/api/system")
        answer.raise_for_status()
        cameras: list[dict[str, Any]] = answer.json()["cameras"]
        return cameras


#: Debian's Chromium, headless (scripts/setup.sh installs it).
CHROMIUM = "/usr/bin/chromium"


def browse_live(url: str, cameras: list[str], shot: Path, timeout: float = 60.0) -> dict[str, Any]:
    """Signs in as ``OWNER`` in headless Chromium and opens the Live page: each of ``cameras``
    must play over MSE (its tile says so and its video's time advances). A screenshot goes to
    ``shot``; per camera, what its tile reported."""
    from playwright.sync_api import sync_playwright  # a development dependency

    seen: dict[str, Any] = {}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme="dark")
        page.set_default_timeout(timeout * 1000)
        page.goto(url + "/login")
        page.wait_for_selector('body[data-ready="true"]')  # its script has the form now
        page.get_by_label("Username").fill(OWNER)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        # Signed in once the app's home is where it went (its page's images need not finish:
        # under load the timeline's snapshots of eight busy cameras can hold "load" back).
        page.wait_for_url(url + "/", wait_until="commit")
        page.goto(url + "/live", wait_until="domcontentloaded")
        for camera in cameras:
            tile = f'.live-tile[data-camera="{camera}"]'
            page.wait_for_selector(f'{tile}[data-state="playing"]')
            times: list[float] = []
            for _ in range(2):
                page.wait_for_function(
                    "([s, t]) => { const v = document.querySelector(s); "
                    "return v && v.currentTime > t; }",
                    arg=[f"{tile} video", times[-1] if times else 0.5],
                )
                times.append(page.eval_on_selector(f"{tile} video", "v => v.currentTime"))
            seen[camera] = {
                "path": page.get_attribute(tile, "data-path"),
                "times": times,
                "size": page.eval_on_selector(
                    f"{tile} video", "v => [v.videoWidth, v.videoHeight]"
                ),
            }
        page.screenshot(path=str(shot))
        browser.close()
    return seen


def _service_stats(address: str) -> list[dict[str, Any]]:
    """What each running detector service served (``DetectorService.stats``)."""
    import logging

    import ray

    from hearthcam.cluster.detector import PREFIX
    from hearthcam.raylink import NAMESPACE

    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        names = [
            a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a.get("namespace") == NAMESPACE and str(a.get("name", "")).startswith(PREFIX)
        ]  # fmt: skip
        stats: list[dict[str, Any]] = ray.get(
            [ray.get_actor(n, namespace=NAMESPACE).stats.remote() for n in names], timeout=60
        )
        return stats
    finally:
        ray.shutdown()


def _cameras_of(count: int) -> list[str]:
    return [f"cam{i}" for i in range(count)]


def _state(store: Store, cameras: list[str]) -> dict[str, Any]:
    """What the database holds for the cameras now."""
    events = store.events(limit=10_000)
    return {
        "events": {e.id: {"camera": e.camera, "wall_end": e.wall_end} for e in events},
        "open": sorted(e.id for e in store.open_events()),
        "segments": {
            c: [[s.start, s.end] for s in store.segments_between(c, float("-inf"), float("inf"))]
            for c in cameras
        },
        "gaps": {c: [[g.start, g.end, g.reason] for g in store.gaps(c)] for c in cameras},
    }


def _wait(what: str, done: Any, server: subprocess.Popen[bytes]) -> float:
    """Polls ``done()`` until true; the time it became true. Raises if the server died or
    ``STEP_TIMEOUT`` passed."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not done():
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("scene", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=2, choices=(1, 2))
    parser.add_argument("--kill")
    parser.add_argument("--watch", type=float, default=6.0)
    parser.add_argument("--train", action="store_true", help="run `hearthcam train` too")
    parser.add_argument("--live", action="store_true", help="watch cameras live in the app")
    parser.add_argument(
        "--detector-service", action="store_true", help="one detector per node (cluster config)"
    )
    parser.add_argument("--pin", action="store_true", help="each node on a core of its own")
    parser.add_argument("--sustain", type=float, help="read the cameras' load after S seconds")
    args = parser.parse_args()
    config = load_config(args.config)
    cameras = _cameras_of(args.cameras)
    nodes = RayNodes()
    report: dict[str, Any] = {"cameras": cameras}
    work = args.out.parent
    try:
        # Declared CPUs: every node can hold all the cameras (a quarter CPU each), so the head
        # takes the killed node's cameras on, and one more for a training or a check.
        cpus = round(args.cameras * config.cluster.camera_cpus) + 1
        nodes.start_head(cpus=cpus, core=0 if args.pin else None)
        if args.nodes == 2:
            nodes.add_node("worker-1", cpus=cpus, core=1 if args.pin else None)
        mounts = dict.fromkeys(cameras, args.scene)
        with serving(mounts, work / "rtsp.log") as url:
            settings = config.model_dump(mode="json", exclude={"cameras"})
            settings["cameras"] = {c: {"inputs": [{"path": f"{url}/{c}"}]} for c in cameras}
            settings["cluster"] = {**settings["cluster"], "engine": "ray", "cameras": True,
                                   "detector_service": args.detector_service}  # fmt: skip
            settings["web"] = {**settings["web"], "host": "127.0.0.1", "port": 0}
            served = work / "served.yaml"
            served.write_text(yaml.safe_dump(settings))
            _serve(served, cameras, nodes, args, report)
    finally:
        logs = nodes.worker_logs()
        report["starts"] = [{"camera": c, "node": n} for c, n in START_LINE.findall(logs)]
        report["trainings"] = TRAINING_LINE.findall(logs)
        report["services"] = SERVICE_LINE.findall(logs)
        nodes.stop()
        args.out.write_text(json.dumps(report, indent=1))


def _serve(
    served: Path,
    cameras: list[str],
    nodes: RayNodes,
    args: argparse.Namespace,
    report: dict[str, Any],
) -> None:
    config = load_config(served)
    log = served.with_name("run.log")
    hearthcam = str(Path(sys.executable).with_name("hearthcam"))
    command = [hearthcam, "run", "-c", str(served), "--cluster", nodes.address]
    with log.open("w") as output, Store.open(config.database_url, data_dir=config.data_dir) as db:
        started = time.time()
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:

            def segments(camera: str, after: float = float("-inf")) -> int:
                found = db.segments_between(camera, after, float("inf"))
                return sum(1 for s in found if s.start > after)

            report["recording_at"] = _wait(
                "every camera's second segment",
                lambda: all(segments(c) >= 2 for c in cameras),
                server,
            )
            report["started_at"] = started
            report["ray_own"] = ray_own_use(nodes)
            # The camera actors' own processes, steady: memory, and CPU over SAMPLE seconds.
            first = actor_use(nodes)
            time.sleep(SAMPLE)
            report["actors"] = {
                pid: {**use, "cpu": (use["cpu_s"] - first[pid]["cpu_s"]) / SAMPLE}
                for pid, use in actor_use(nodes).items()
                if pid in first
            }
            placed = {c: n for c, n in START_LINE.findall(nodes.worker_logs())}
            report["placed"] = placed
            if args.live or args.sustain:  # an owner, made through the server
                added = subprocess.run(
                    [hearthcam, "user", "add", OWNER, "-c", str(served), "--password-stdin"],
                    input=PASSWORD + "\n", capture_output=True, text=True, timeout=120,
                    check=False,
                )  # fmt: skip
                report["user_add"] = added.stdout + added.stderr
                if added.returncode != 0:
                    raise RuntimeError(f"hearthcam user add failed: {report['user_add']}")
                found = re.search(r"web app at (http://\S+)", log.read_text())
                assert found is not None, "the server did not say where its web app is"
                report["web"] = found.group(1).rstrip("/")
            if args.sustain:
                time.sleep(args.sustain)
                report["system"] = system_load(report["web"])
            if args.live:  # the owner watches a camera on each node
                web = report["web"]
                report["live_before"] = {
                    node: watch_live(web, camera)
                    for node, camera in {n: c for c, n in sorted(placed.items())}.items()
                }
                watched = sorted(w["camera"] for w in report["live_before"].values())
                shot = served.with_name("live-cluster.png")
                report["browser"] = browse_live(web, watched, shot)
            if args.kill:
                report["placed_before"] = placed
                report["before"] = _state(db, cameras)
                killed_at = time.time()
                report["killed"] = {
                    "node": args.kill,
                    "processes": nodes.kill(args.kill),
                    "at": killed_at,
                }
                back: dict[str, float] = {}

                def all_back() -> bool:
                    for camera in cameras:
                        if camera not in back and segments(camera, killed_at) >= 1:
                            back[camera] = time.time()
                    return len(back) == len(cameras)

                _wait("every camera recording after the kill", all_back, server)
                report["back_at"] = back
                if args.live:  # a camera that moved, watched from its new process
                    starts = [c for c, _ in START_LINE.findall(nodes.worker_logs())]
                    moved = sorted(c for c in set(starts) if starts.count(c) > 1)
                    report["live_after"] = watch_live(report["web"], moved[0])
            if args.train:  # the user's ``hearthcam train``, through the running server
                done = subprocess.run(
                    [hearthcam, "train", "-c", str(served)],
                    capture_output=True, text=True, timeout=120, check=False,
                )  # fmt: skip
                report["train"] = {"code": done.returncode, "output": done.stdout + done.stderr}
            time.sleep(args.watch)
            report["ray_own_end"] = ray_own_use(nodes)
            if args.detector_service:
                report["service_stats"] = _service_stats(nodes.address)
        finally:
            server.send_signal(signal.SIGINT)
            interrupted = time.monotonic()
            try:
                report["code"] = server.wait(180)
            except subprocess.TimeoutExpired:
                server.kill()
                report["code"] = server.wait()
            report["stopping_s"] = time.monotonic() - interrupted
            report["output"] = log.read_text(errors="replace")
        report["after"] = _state(db, cameras)
        import logging

        import ray

        ray.init(address=nodes.address, logging_level=logging.WARNING, log_to_driver=False)
        report["nodes"] = {
            n["NodeName"]: {"id": n["NodeID"], "alive": n["Alive"]}
            for n in ray.nodes()  # type: ignore[no-untyped-call]
        }
        ray.shutdown()


if __name__ == "__main__":
    main()
