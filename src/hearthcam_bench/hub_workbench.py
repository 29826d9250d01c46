"""The hub's workbench under load: many annotators at once against one hub on loopback.

A real hub (``hub_app`` on uvicorn, SQLite, sealed clips, its view log, real accounts with TOTP
done through the enrolment link's steps) holds clips of real footage from many linked homes,
every one passed by a stand-in check (the checks are measured in the ``hub`` scenario's own
table). Each annotator is a thread with its own HTTP client and session, doing what the
workbench page does: ask the queue, take a lease (the hub makes the watermarked copy then), fetch
the clip, look at it for ``think`` seconds, record a verdict; again until the time is up. Every
request's latency is kept by kind; the table gives the median and p95 of each, and how many
leases the hub prepared per minute.

The cost that dominates is the watermarked copy (decode, blend, encode: CPU), made one at a time
so that the hub keeps answering; a second table measures it alone per clip size, which is what
sizes a hub: leases per hour per core.
"""

from __future__ import annotations

import functools
import hashlib
import io
import secrets
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pyotp
from argon2 import PasswordHasher, profiles
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthcam import scenes
from hearthcam.accounts import Accounts, Role
from hearthcam.annotate.watermark import mark_clip
from hearthcam.hub.checks import HubChecks
from hearthcam.hub.clips import HubClips
from hearthcam.hub.desk import HubDesk
from hearthcam.hub.identity import Identity, encode_b64, load_or_create
from hearthcam.hub.registry import HubRegistry
from hearthcam.hub.server import hub_app, start_hub
from hearthcam.hub.workbench import HubWorkbench
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.redact import looped, write_h264
from hearthcam_bench.report import Report

PASSWORD = "a long walk by the quiet river"
KINDS = ("queue", "take", "clip", "annotate")


@dataclass(frozen=True)
class LoadPlan:
    """How hard to push: annotators, seconds, their think time, the clips' size."""

    annotators: int
    seconds: float
    think: float
    homes: int
    clips: int
    clip_seconds: int
    size: tuple[int, int]
    fps: int
    mark_sizes: tuple[tuple[int, int], ...]
    copy_workers: tuple[int, ...]


FULL = LoadPlan(50, 120.0, 10.0, 20, 400, 10, (640, 360), 15, ((640, 360), (1280, 720)), (1, 2))
QUICK = LoadPlan(6, 8.0, 0.5, 3, 24, 2, (320, 180), 10, ((320, 180),), (1,))


class _Pass:
    """The stand-in check: every clip passes (this table measures the workbench)."""

    def inspect(self, opener: Callable[[], BinaryIO]) -> str | None:
        return None


def _clip(path: Path, seconds: int, size: tuple[int, int], fps: int) -> bytes:
    """``seconds`` of vtest.avi (Debian's opencv-doc: people walking) at ``size``, H.264."""
    frames = list(scenes.vtest_frames())
    return write_h264(path, looped(frames, seconds * fps, size), fps).read_bytes()


@dataclass
class _Hub:
    store: Store
    clips: HubClips
    checks: HubChecks
    desk: HubDesk
    accounts: Accounts
    registry: HubRegistry
    identity: Identity

    def close(self) -> None:
        self.desk.close()
        self.checks.close()
        self.clips.close()
        self.registry.close()
        self.store.close()


def _open_hub(root: Path, copy_workers: int) -> _Hub:
    url = f"sqlite:///{root / 'hub.db'}"
    identity = load_or_create(root / "hub-identity.pem")
    store = Store.open(url)
    audit = AuditLog(store, AuditKey.load_or_create(root / "hub-audit.pem"))
    registry = HubRegistry.open(url)
    clips = HubClips.from_url(url, root / "clips", identity)
    checks = HubChecks.from_url(url, clips, _Pass)
    desk = HubDesk.from_url(
        url, clips, checks, audit, daily_quota=100_000, copy_workers=copy_workers
    )
    accounts = Accounts(store, hasher=PasswordHasher.from_parameters(profiles.CHEAPEST))
    return _Hub(store, clips, checks, desk, accounts, registry, identity)


def _fill(hub: _Hub, plan: LoadPlan, data: bytes) -> None:
    """Links ``plan.homes`` homes and gives each its share of ``plan.clips`` clips."""
    now = time.time()
    digest = hashlib.sha256(b"receipt").hexdigest()
    homes = []
    for i in range(plan.homes):
        home_key = Ed25519PrivateKey.generate().public_key()
        raw = home_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        code = hub.registry.new_code(now)
        homes.append(hub.registry.link(code, encode_b64(raw), f"home {i}", now))
    for n in range(plan.clips):
        home = homes[n % len(homes)]
        hub.clips.add(home, secrets.token_hex(16), data, digest, int(now) + 86400, now)
    hub.checks.run_once()


def _annotator(hub: _Hub, base: str, name: str) -> httpx.Client:
    """A signed-in annotator's client: enrolled by the link's steps, as the page does them."""
    now = time.time()
    invite = hub.accounts.enrolment.invite(name, Role.ANNOTATOR, None, now)
    secret = hub.accounts.enrolment.start_totp(invite.token, now).secret
    client = httpx.Client(base_url=base, timeout=600)
    done = client.post(
        "/api/enrol",
        json={"token": invite.token, "password": PASSWORD, "code": pyotp.TOTP(secret).now()},
    )
    done.raise_for_status()
    client.headers["X-CSRF-Token"] = done.json()["csrf_token"]
    return client


def _work(
    client: httpx.Client,
    until: float,
    think: float,
    times: dict[str, list[float]],
    lock: threading.Lock,
    failures: list[str],
) -> None:
    def timed(kind: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        started = time.perf_counter()
        answer = call()
        took = time.perf_counter() - started
        with lock:
            times[kind].append(took)
            if answer.status_code >= 500:
                failures.append(f"{kind}: {answer.status_code}")
        return answer

    while time.monotonic() < until:
        queue = timed("queue", lambda: client.get("/api/review/queue")).json()
        if not queue["available"]:
            return
        taken = timed("take", lambda: client.post("/api/review/leases"))
        if taken.status_code != 201:
            continue  # another annotator took the last one
        lease = taken.json()
        clip_url, done_url = lease["clip_url"], f"/api/review/leases/{lease['id']}/annotation"
        timed("clip", functools.partial(client.get, clip_url))
        time.sleep(think)
        timed("annotate", functools.partial(client.post, done_url, json={"verdict": "pet"}))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_load(ctx: BenchContext) -> list[Report]:
    plan = QUICK if ctx.quick else FULL
    clip_dir = ctx.workdir("hub-workbench-clips")
    data = _clip(clip_dir / "clip.mp4", plan.clip_seconds, plan.size, plan.fps)
    loads = [_load(ctx, plan, data, workers) for workers in plan.copy_workers]
    return [*loads, _mark_costs(ctx, plan, clip_dir)]


def _load(ctx: BenchContext, plan: LoadPlan, data: bytes, workers: int) -> Report:
    """One run of ``plan.annotators`` against a fresh hub making ``workers`` copies at once."""
    hub = _open_hub(ctx.workdir(f"hub-workbench-{workers}"), workers)
    server = None
    clients: list[httpx.Client] = []
    try:
        _fill(hub, plan, data)
        app = hub_app(hub.registry, hub.identity, clips=hub.clips, checks=hub.checks,
                      workbench=HubWorkbench(hub.accounts, hub.desk))  # fmt: skip
        server = start_hub(app, "127.0.0.1", 0)
        clients = [_annotator(hub, server.url, f"annotator{i}") for i in range(plan.annotators)]
        ctx.console.print(
            f"hub: {plan.annotators} annotators for {plan.seconds:g} s on {plan.clips} clips, "
            f"{workers} copy workers",
            highlight=False,
        )
        times: dict[str, list[float]] = defaultdict(list)
        lock, failures = threading.Lock(), list[str]()
        started = time.monotonic()
        until = started + plan.seconds
        threads = [
            threading.Thread(target=_work, args=(c, until, plan.think, times, lock, failures))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        leases = len(times["take"])
        annotated = len(hub.desk.annotations())
    finally:
        for client in clients:
            client.close()
        if server is not None:
            server.stop()
        hub.close()
    load = Report(
        f"Hub workbench: {plan.annotators} annotators at once, {workers} copy "
        f"worker{'s' if workers > 1 else ''} ({plan.clip_seconds} s clips at "
        f"{plan.size[0]}x{plan.size[1]}, {plan.think:g} s looking at each)",
        ["request", "requests", "median", "p95"],
    )
    for kind in KINDS:
        values = times.get(kind, [])
        load.add(
            kind,
            str(len(values)),
            fmt.secs(statistics.median(values) if values else None, 3),
            fmt.secs(_p95(values) if values else None, 3),
        )
    load.notes += [
        f"{leases} leases taken and {annotated} annotations recorded in {elapsed:.0f} s: "
        f"{leases / elapsed * 60:.1f} leases a minute; {len(failures)} answers 5xx.",
        "take = the lease and its watermarked copy (decode, blend the annotator's name, encode; "
        f"at most {workers} at once: `hub serve --copy-workers`); clip = the whole copy "
        "streamed, its view logged first; queue and annotate are database work. Each annotator "
        "waits for its own answers: a slow take slows that annotator, so the lease rate is what "
        "the hub sustains.",
        "Real parts: uvicorn on loopback, SQLite, sealed clips, the view log, argon2 (cheapest "
        "parameters: logins are not measured) and TOTP sessions, CSRF. The hub's checks are a "
        "stand-in that passes every clip (the checks' own table measures them).",
    ]
    return load


def _mark_costs(ctx: BenchContext, plan: LoadPlan, work: Path) -> Report:
    """One watermarked copy at a time, per clip size: what a lease costs the hub's CPU."""
    costs = Report(
        f"Hub workbench: one lease's watermarked copy ({plan.clip_seconds} s clips, median of 3)",
        ["clip", "seconds to make", "leases per hour, one at a time"],
    )
    for width, height in plan.mark_sizes:
        data = _clip(work / f"mark-{width}.mp4", plan.clip_seconds, (width, height), plan.fps)
        runs = []
        for run in range(3):
            started = time.perf_counter()
            mark_clip(io.BytesIO(data), f"annotator{run} 0123abcd")
            runs.append(time.perf_counter() - started)
        median = statistics.median(runs)
        costs.add(f"{width}x{height} @ {plan.fps} fps", fmt.secs(median, 2), f"{3600 / median:.0f}")
    costs.notes.append(
        "Without the detector's pre-labels (hub serve adds 4 detector runs a lease). With one "
        "copy worker (`hub serve`'s default, which keeps a core to answer on) a hub's lease rate "
        "is at most the last column; divide it by the leases one annotator takes an hour for "
        "the annotators one hub serves."
    )
    return costs
