"""Scenario ``timeline``: how fast the timeline API answers over 50,000 events.

One household with four cameras and 50,000 finished events over 30 days (5,000 in quick mode),
written straight into a fresh store through its schema (no media: a listing never reads media).
A mix like a busy home's: mostly motion, people on one event in five, cars, pets, a rare
bicycle; zones on most; one in ten alerted; about half marked reviewed through the API's
"mark all reviewed". The real web app serves it (uvicorn on loopback) and every filter of the
timeline is asked for its first page of 100 events, as the browser asks; each request is timed
from the client, HTTP and JSON included. Labels and zones are matched with SQLite's
``json_each`` (``store.event_query``), which the figures below are the cost of.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from sqlalchemy import insert

from hearthcam import app
from hearthcam.accounts import Accounts
from hearthcam.config import parse_config
from hearthcam.runtime import Runtime
from hearthcam.store.schema import metadata
from hearthcam.web import EventBus, ServerHandle
from hearthcam_bench import report as fmt
from hearthcam_bench.broker import free_port
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import percentile
from hearthcam_bench.report import Report

EVENTS, QUICK_EVENTS = 50_000, 5_000
DAYS = 30
CAMERAS = ("front", "drive", "garden", "side")
PAGE = 100
REQUESTS, QUICK_REQUESTS = 40, 10
TARGET = 0.25  # seconds, p95 of one page
OWNER, PASSWORD = "owner", "copper kettle on the stove at dusk"
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC: the newest event is just before


def _labels(rng: random.Random) -> tuple[str, list[str]]:
    """A verdict and its labels, in a busy home's proportions."""
    roll = rng.random()
    if roll < 0.20:
        return "threat", ["person"] + (["car"] if rng.random() < 0.2 else [])
    if roll < 0.35:
        return "vehicle", [rng.choice(["car", "car", "truck"])]
    if roll < 0.43:
        return "pet", [rng.choice(["dog", "cat"])]
    if roll < 0.432:
        return "threat", ["person", "bicycle"]
    return "motion", []


def _track(n: int, label: str, zones: list[str]) -> dict[str, object]:
    """A track as the store keeps it (``store.db``): the rows are as long as real ones (a
    motion event keeps the parked car it saw)."""
    return {
        "tracker_id": n + 1, "label": label, "best_score": 0.82, "mean_score": 0.71, "hits": 14,
        "first_pts": 1.0, "last_pts": 8.0, "max_area_ratio": 0.12, "travel": 0.2,
        "zones": zones, "votes": [[label, 6.2], ["dog", 0.4]],
    }  # fmt: skip


def _rows(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        start = NOW - (i + rng.random()) * DAYS * 86400 / count
        verdict, labels = _labels(rng)
        zones = rng.sample(["porch", "drive", "lawn", "gate"], rng.choice([0, 1, 1, 2]))
        rows.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                "camera": rng.choice(CAMERAS),
                "verdict": verdict,
                "labels": labels,
                "start": 0.0,
                "end": 8.0,
                "wall_start": round(start, 3),
                "wall_end": round(start + 8.0, 3),
                "score": 0.8 if labels else 0.0,
                "zones": sorted(zones),
                "tracks": [_track(n, label, zones) for n, label in enumerate(labels or ["car"])],
                "snapshot": None,
                "clip": None,
                "alert": verdict == "threat" and rng.random() < 0.5,
                "finished": True,
            }
        )
    return rows


class _Client:
    """Keep-alive HTTP to the web app with a signed-in session."""

    def __init__(self, url: str, token: str, csrf: str) -> None:
        parts = urlsplit(url)
        self._where = (parts.hostname or "127.0.0.1", parts.port)
        self._conn = http.client.HTTPConnection(*self._where)
        self._headers = {"Cookie": f"hc_session={token}", "X-CSRF-Token": csrf, "Origin": url}

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closes a connection idle past its keep-alive (while the bench settles).
            self._conn.close()
            self._conn = http.client.HTTPConnection(*self._where)
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        self._conn.close()


def _cases(client: _Client, count: int) -> list[tuple[str, Callable[[], dict[str, str]]]]:
    """(what, the query parameters of one request) for every filter measured."""
    deep: dict[str, str] = {}
    depth = count * 4 // 5  # the page that starts after 80 % of the events

    def deep_page() -> dict[str, str]:
        if not deep:  # its cursor, found once
            params = {"limit": "500"}
            for _ in range(depth // 500):
                page = json.loads(client.request("GET", "/api/events?" + urlencode(params)))
                if not page:
                    break
                params["after"] = page[-1]["cursor"]
            deep.update(after=params["after"])
        return {"limit": str(PAGE), **deep}

    day = NOW - 12 * 86400  # a day picked in the date picker: its events, newest first
    return [
        ("first page, no filter", lambda: {}),
        ("verdict = threat", lambda: {"verdict": "threat"}),
        ("camera = drive", lambda: {"camera": "drive"}),
        ("label = person (20 %)", lambda: {"label": "person"}),
        ("label = bicycle (0.2 %)", lambda: {"label": "bicycle"}),
        ("zone = gate", lambda: {"zone": "gate"}),
        ("alert sent", lambda: {"alert": "true"}),
        ("unreviewed", lambda: {"reviewed": "false"}),
        (
            "label + zone + unreviewed",
            lambda: {"label": "dog", "zone": "lawn", "reviewed": "false"},
        ),
        ("one day (date picker)", lambda: {"since": str(day - 86400), "until": str(day)}),
        (f"the page after {depth:,} events (cursor)", deep_page),
    ]


def _measure(client: _Client, params: dict[str, str], requests: int) -> list[float]:
    query = urlencode({"limit": str(PAGE), **params})
    client.request("GET", f"/api/events?{query}")  # warm: the first one fills SQLite's cache
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.request("GET", f"/api/events?{query}")
        times.append(time.perf_counter() - started)
    return times


def _serve(ctx: BenchContext, count: int) -> tuple[ServerHandle, Runtime, str, str]:
    config = parse_config({"data_dir": str(ctx.workdir("timeline")), "web": {"port": free_port()}})
    bus = EventBus()
    runtime = app.build(config, listeners=[bus.on_change], alerts=False)
    accounts = Accounts(runtime.store)
    accounts.setup(OWNER, PASSWORD, "Bench", CAMERAS, time.time())
    rows = _rows(count)
    with runtime.store.write_session() as session:
        for at in range(0, len(rows), 5000):
            session.execute(insert(metadata.tables["events"]), rows[at : at + 5000])
    login = accounts.authenticate(OWNER, PASSWORD, ip="127.0.0.1", user_agent="bench",
                                  now=time.time())  # fmt: skip
    assert login.token is not None
    session_info = accounts.session(login.token, time.time())
    assert session_info is not None
    web = app.serve_web(runtime, bus)
    return web, runtime, login.token, session_info.csrf_token


def run(ctx: BenchContext) -> list[Report]:
    """Fills a store, serves it, times every filter; one table."""
    count = QUICK_EVENTS if ctx.quick else EVENTS
    requests = QUICK_REQUESTS if ctx.quick else REQUESTS
    # uvicorn logs every request: thousands of lines that say nothing here.
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.WARNING)
    try:
        return [_run(ctx, count, requests)]
    finally:
        access.setLevel(level)


def _run(ctx: BenchContext, count: int, requests: int) -> Report:
    web, runtime, token, csrf = _serve(ctx, count)
    client = _Client(web.url, token, csrf)
    table = Report(
        f"timeline: GET /api/events, first page of {PAGE}, {count:,} events on "
        f"{len(CAMERAS)} cameras over {DAYS} days",
        ["filter", "requests", "events", "p50", "p95", "max", "target", "result"],
    )
    try:
        # Half reviewed, through the API: every camera's older half.
        started = time.perf_counter()
        body = f'{{"until": {NOW - DAYS * 86400 / 2}}}'.encode()
        marked = client.request("POST", "/api/events/reviewed", body)
        mark_all = time.perf_counter() - started
        ctx.settle()
        for what, params in _cases(client, count):
            query = params()
            shown = len(json.loads(client.request("GET", "/api/events?" + urlencode(
                {"limit": str(PAGE), **query}))))  # fmt: skip
            times = _measure(client, query, requests)
            p95 = percentile(times, 95)
            table.add(
                what, str(len(times)), str(shown), fmt.ms(percentile(times, 50)), fmt.ms(p95),
                fmt.ms(max(times)), f"p95 < {TARGET * 1000:g} ms",
                fmt.verdict(None if p95 is None else p95 < TARGET),
            )  # fmt: skip
    finally:
        client.close()
        web.stop()
        runtime.close()
        runtime.store.close()
    table.notes += [
        f"'mark all reviewed' for the older half took {fmt.ms(mark_all)} ({marked.decode()}).",
        "Labels and zones are JSON arrays on the event row, matched in SQL with json_each in an "
        "EXISTS; a page walks the timeline index (wall_start, camera, verdict, alert, labels, "
        "zones) newest first, tests the filters on the index entry, reads only the rows that "
        "match, and stops at 100: a rare label walks more of the index than a common one.",
        "Keep-alive HTTP from one client thread on the same machine; times include routing, "
        "authentication, SQLite and JSON.",
    ]
    return table
