"""Camera pipelines on a Ray cluster: each camera is a Ray actor (``CameraWorker``) that reads,
records and analyses it on whichever node Ray placed it, spread over the nodes by the CPUs each
declares (``cluster.camera_cpus``).

An actor opens the database (PostgreSQL, which every node reaches) and the shared media root
itself, and writes its segments, snapshots, clips and event rows there as a camera thread of a
single box does. What crosses Ray: the config's sections a camera reads (no alert channel's
secret), the camera's resolved settings, and back, every half second, the event changes, the
camera's health and load and the footage its open event still needs; never a frame, except the
live view's chunks (fMP4 fragments, MJPEG pictures) while someone watches it in the app, polled
every 0.1 s then (``live.relay``).

When an actor's node (or its process) dies, Ray starts it again on a live node with CPUs to
spare (``max_restarts=-1``). Each actor holds its camera's claim in the database
(``Store.claim_camera``: an advisory lock on its own connection), so a new actor waits while
the old process still lives (on a node Ray gave up on that still reaches the database). It then
recovers what the dead one left of *its* camera only (``recordings.recovery.recover_camera``:
the segment in flight salvaged to its last whole fragment, an event left open finished from its
footage, the downtime recorded as a gap); the other cameras, recording in other processes, are
not touched.

The server that started the actors (``RayCameras``, built by the app) relays their event changes
to its listeners: the alert decision and the web app's live updates run once, on that server.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hearthcam.config import CameraConfig, Config, parse_config
from hearthcam.live import LiveSource, RelayedView, Subscription
from hearthcam.live.overlay import Overlay
from hearthcam.live.subscription import Chunk
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.pipeline.load import CameraLoad
from hearthcam.raylink import NAMESPACE, log_to_stderr
from hearthcam.recordings.retention import WaitingClip
from hearthcam.types import Change, Event, EventListener

log = logging.getLogger(__name__)

#: The parts of the config a camera's actor gets: the database, the media, how to detect,
#: record and cut events. Alerts, the web app and their secrets stay on the server.
CAMERA_SETTINGS = {
    "data_dir", "database", "detector", "objects", "record", "events", "source", "cluster",
}  # fmt: skip
#: How often the server collects each actor's event changes and health, seconds.
POLL = 0.5
#: As often while someone watches a camera's live view: its chunks come with the polls.
LIVE_POLL = 0.1
#: A camera whose actor has not answered for this long is shown reconnecting, seconds.
STALE = 5.0
#: Event changes an actor keeps for the server at most (the oldest go first: the events are in
#: the database whatever happens; only their live relay is lost).
MAX_CHANGES = 10_000
#: How often an actor waiting for its camera's claim says so, seconds.
CLAIM_LOG_EVERY = 30.0
#: How long stopping waits for an actor to flush its open event and segment, seconds.
STOP_WAIT = 60.0


@dataclasses.dataclass(frozen=True)
class Poll:
    """What an actor tells the server each ``POLL``."""

    changes: list[tuple[Change, Event]]
    health: CameraHealth
    load: CameraLoad
    needed_from: float | None
    node: str
    restarted: bool
    instance: str  # this actor process's own id: a new one after every restart
    # Live views: chunks per (kind, key) the server asked for, the keys that ended, the overlay.
    live: dict[tuple[str, int], list[Chunk]] = dataclasses.field(default_factory=dict)
    ended: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    overlay: Overlay | None = None
    # Clips a full disk refused, waiting for space (oldest first).
    waiting: list[WaitingClip] = dataclasses.field(default_factory=list)


class CameraWorker:
    """A Ray actor: one camera's pipeline on this node (see the module doc)."""

    def __init__(self, settings: dict[str, Any], name: str, camera: dict[str, Any]) -> None:
        # Imported here: this runs in the actor's process, on any node.
        import ray

        from hearthcam.pipeline.camera import camera_parts, run_camera
        from hearthcam.pipeline.detect import Detector, load_detector
        from hearthcam.pipeline.recovered import RecoveredEvents
        from hearthcam.pipeline.runner import PipelineParts
        from hearthcam.privacy.familiar import FamiliarFaces
        from hearthcam.privacy.familiar_live import Sightings, live_watch
        from hearthcam.recordings.recovery import recover_camera
        from hearthcam.served_model import ModelWatcher, served_verdict
        from hearthcam.store.db import Store
        from hearthcam.store.familiar import FamiliarStore
        from hearthcam.vault.household import cameras_household, open_media

        log_to_stderr()
        context = ray.get_runtime_context()
        self.name = name
        self.node = context.get_node_id()
        self.restarted = bool(context.was_current_actor_reconstructed)
        self.instance = uuid.uuid4().hex
        config = parse_config(settings)
        data_dir = config.data_dir
        self._store = Store.open(config.database_url, data_dir=data_dir)
        # A fence: a process that still records this camera (on a node Ray gave up on that still
        # reaches the database) holds its claim; nothing is recovered or recorded until it ends.
        while not self._store.claim_camera(name, wait=CLAIM_LOG_EVERY):
            log.warning("%s: another process still records it; waiting for it to end", name)
        media = open_media(self._store, data_dir)
        if self.restarted:
            # What the dead actor left of this camera: its segment in flight, its open event.
            finisher = RecoveredEvents(config.record, self._store, media, data_dir)
            report = recover_camera(self._store, data_dir, name, media=media, finisher=finisher)
            log.info("%s: moved to node %s; recovered %s", name, self.node, report)
        self._changes: deque[tuple[Change, Event]] = deque(maxlen=MAX_CHANGES)
        self._live: dict[tuple[str, int], Subscription] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"clips-{name}")
        slot = served_verdict(self._store, data_dir)
        # Familiar faces as in one process: this actor looks, and writes the sightings of its
        # familiar events itself (the server's listener finds none of them to write).
        familiar = FamiliarFaces(FamiliarStore(self._store), media.vault.keyring)
        faces = live_watch(familiar, cameras_household(self._store))
        if config.cluster.detector_service:
            from hearthcam.cluster.detector import node_detector

            detector: Detector = node_detector(settings)  # the node's, shared
        else:
            detector = load_detector(config.detector)
        parts = PipelineParts(
            config=config,
            detector=detector,
            store=self._store,
            verdict=slot,
            clip_pool=self._pool,
            listeners=[Sightings(faces, familiar), self._relay],
            media=media,
            faces=faces,
        )
        resolved = CameraConfig.model_validate(camera)
        self._pipeline, stream = camera_parts(name, resolved, parts, realtime=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_camera, args=(name, stream, self._pipeline, self._stop), name=f"src-{name}"
        )
        self._thread.start()
        # A model promoted (or rolled back) anywhere reaches this camera's verdicts.
        self._models = threading.Thread(
            target=ModelWatcher(slot, self._store, data_dir).run_forever,
            args=(self._stop,),
            name=f"models-{name}",
        )
        self._models.start()
        log.info("%s: camera starts on node %s (process %d)", name, self.node, os.getpid())

    def _relay(self, change: Change, event: Event) -> None:
        self._changes.append((change, event))

    def poll(self, wanted: dict[str, list[int]] | None = None) -> Poll:
        """The event changes since the last poll, how the camera is doing now, and the live
        chunks of the server's viewers: ``wanted`` maps a kind (``fmp4``, ``mjpeg``) to the keys
        of the server's open subscriptions; each gets its own subscription here, opened at its
        first poll and closed once the server stops asking."""
        changes = []
        while self._changes:
            changes.append(self._changes.popleft())
        asked = {(kind, key) for kind, keys in (wanted or {}).items() for key in keys}
        live: dict[tuple[str, int], list[Chunk]] = {}
        ended: list[tuple[str, int]] = []
        view = self._pipeline.live
        for kind, key in asked - set(self._live):
            self._live[(kind, key)] = (view.fmp4 if kind == "fmp4" else view.mjpeg).subscribe()
        for wanted_key, sub in list(self._live.items()):
            if wanted_key not in asked:
                sub.close()
                del self._live[wanted_key]
                continue
            chunks = sub.drain()
            if chunks:
                live[wanted_key] = chunks
            if sub.closed:
                ended.append(wanted_key)
                del self._live[wanted_key]
        return Poll(
            changes,
            self._pipeline.health(),
            self._pipeline.load(),
            self._pipeline.needed_from(),
            self.node,
            self.restarted,
            self.instance,
            live,
            ended,
            view.overlay.latest() if asked else None,
            [
                WaitingClip(w.event.id, self.name, w.start, w.end, w.event.verdict)
                for w in self._pipeline.waiting_for_space()
            ],
        )

    def set_geometry(self, camera: dict[str, Any]) -> None:
        """New masks and zones, from the next analysed frame on."""
        self._pipeline.set_geometry(CameraConfig.model_validate(camera))

    def cut_pending(self) -> int:
        """Cuts the clips that waited for the household's unlock or for space."""
        return self._pipeline.cut_pending()

    def give_up_clip(self, event_id: str) -> bool:
        """Drops a clip that waited for space (retention needs its footage)."""
        return self._pipeline.give_up_clip(event_id)

    def stop(self) -> list[tuple[Change, Event]]:
        """Stops reading, ends the open event, closes the segment and cuts the pending clips;
        returns the last event changes."""
        self._stop.set()
        self._thread.join()
        self._models.join()
        self._pipeline.finish()
        self._pool.shutdown(wait=True)
        self._store.close()
        log.info("%s: camera stopped on node %s", self.name, self.node)
        return list(self._changes)


def footage_needed(
    heard: Sequence[tuple[float | None, float]], now: float, reach_back: float
) -> float | None:
    """The earliest footage the cluster's cameras need kept, from what each last said: (the
    footage its open event needed, when it answered). A camera silent for over ``STALE``
    seconds may have started an event after it last answered, so its footage from then, less
    ``reach_back`` (a clip's pre-roll and minimum), is kept too. None: nothing is needed."""
    needed = [first for first, _ in heard if first is not None]
    needed += [answered - reach_back for _, answered in heard if now - answered > STALE]
    return min(needed, default=None)


@dataclasses.dataclass
class _Camera:
    """The server's view of one camera's actor."""

    actor: Any  # Ray's handle on the CameraWorker
    view: RelayedView
    pending: Any = None  # the poll asked for and not answered yet (an ObjectRef)
    last: Poll | None = None
    answered: float = 0.0
    started: float = dataclasses.field(default_factory=time.time)


class RayCameras:
    """The runtime's ``RemoteCameras``: one actor per camera on the cluster, their event changes
    relayed to ``listeners`` on this server. ``placed`` tells where each camera runs now."""

    def __init__(self, config: Config, listeners: Sequence[EventListener]) -> None:
        import ray

        from hearthcam.cluster.shares import connect

        connect(config)
        self._settings = config.model_dump(mode="json", include=CAMERA_SETTINGS)
        self._services = config.cluster.detector_service
        if self._services:  # a server that died left them, maybe with another model
            from hearthcam.cluster.detector import stop_services

            stop_services(self._settings)
        self._cpus = config.cluster.camera_cpus
        # How far back an event's clip reaches from its start (as the runtime's retention uses).
        self._reach_back = config.record.pre_roll + config.record.min_clip
        self._class = ray.remote(CameraWorker)
        self._listeners = list(listeners)
        self._cameras: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self.placed: dict[str, str] = {}  # camera -> node id, as its last poll said

    def start(self, name: str, camera: CameraConfig) -> None:
        """Runs ``camera`` as ``name`` on the cluster (replacing the actor running as ``name``)."""
        self.stop(name)
        actor: Any = self._class.options(
            namespace=NAMESPACE,
            num_cpus=self._cpus,
            max_restarts=-1,  # on a live node, whenever its node or process dies
            max_concurrency=2,  # a poll is answered while ``stop`` flushes
            scheduling_strategy="SPREAD",
        ).remote(self._settings, name, camera.model_dump(mode="json"))
        with self._lock:
            self._cameras[name] = _Camera(actor, RelayedView(name))
        log.info("%s: started on the cluster", name)

    def stop(self, name: str) -> None:
        """Stops one camera's actor after it flushed its open event and segment."""
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        with self._lock:
            camera = self._cameras.pop(name, None)
            self.placed.pop(name, None)
        if camera is None:
            return
        camera.view.close()
        try:
            last: list[tuple[Change, Event]] = ray.get(
                camera.actor.stop.remote(), timeout=STOP_WAIT
            )
            self._tell(last)
        except (RayError, GetTimeoutError) as error:
            log.warning("%s: its actor did not stop cleanly: %s", name, error)
        ray.kill(camera.actor, no_restart=True)
        log.info("%s: stopped on the cluster", name)

    def set_geometry(self, name: str, camera: CameraConfig) -> None:
        with self._lock:
            found = self._cameras.get(name)
        if found is not None:
            found.actor.set_geometry.remote(camera.model_dump(mode="json"))

    def cut_pending(self) -> None:
        with self._lock:
            actors = [c.actor for c in self._cameras.values()]
        for actor in actors:
            actor.cut_pending.remote()

    def health(self, name: str) -> CameraHealth | None:
        """The camera's health from its last poll; reconnecting while its actor does not
        answer (its node died and Ray is moving it)."""
        with self._lock:
            camera = self._cameras.get(name)
        if camera is None:
            return None
        now = time.time()
        if camera.last is None:
            return dataclasses.replace(CameraHealth.off(name), connection=Connection.CONNECTING)
        health = camera.last.health
        if now - camera.answered > STALE:
            return dataclasses.replace(
                health,
                connection=Connection.RECONNECTING,
                last_error="its cluster node stopped answering; moving to a live node",
                last_error_at=camera.answered,
            )
        return health

    def load(self, name: str) -> CameraLoad | None:
        with self._lock:
            camera = self._cameras.get(name)
        return None if camera is None or camera.last is None else camera.last.load

    def needed_from(self) -> float | None:
        """The earliest footage an open event needs over the cluster's cameras, as their last
        polls said. A camera not heard from lately (its node died) may have started an event
        since: its footage from its last answer, less a clip's reach back, is kept too (its new
        actor finishes that event from it)."""
        with self._lock:
            heard = [(c.last.needed_from, c.answered) for c in self._cameras.values() if c.last]
        return footage_needed(heard, time.time(), self._reach_back)

    @property
    def live(self) -> Mapping[str, LiveSource]:
        """The running cameras' relayed live views (camera -> view), as they come and go."""
        return _LiveViews(self)

    def view(self, name: str) -> RelayedView | None:
        with self._lock:
            camera = self._cameras.get(name)
        return None if camera is None else camera.view

    def names(self) -> list[str]:
        with self._lock:
            return list(self._cameras)

    def _watched(self) -> bool:
        with self._lock:
            return any(camera.view.viewers for camera in self._cameras.values())

    def waiting_for_space(self) -> list[WaitingClip]:
        """The clips a full disk refused, over the cluster's cameras, as their last polls said."""
        with self._lock:
            polls = [c.last for c in self._cameras.values() if c.last is not None]
        return [clip for poll in polls for clip in poll.waiting]

    def give_up(self, clip: WaitingClip) -> bool:
        """Drops a clip that waited for space, on its camera's node."""
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        with self._lock:
            camera = self._cameras.get(clip.camera)
        if camera is None:
            return False
        try:
            return bool(ray.get(camera.actor.give_up_clip.remote(clip.event_id), timeout=STALE))
        except (RayError, GetTimeoutError):
            return False  # its node is gone: the moved actor waits for nothing of the old one

    def run_forever(self, stop: threading.Event) -> None:
        """Collects every actor's poll each ``POLL`` (``LIVE_POLL`` while someone watches a
        live view) until ``stop``; one outstanding poll per actor (a moving actor's poll waits
        for it)."""
        while not stop.wait(interval := LIVE_POLL if self._watched() else POLL):
            try:
                self.poll_once(timeout=interval)
            except Exception:  # the relay must go on; the cameras record regardless
                log.exception("polling the cluster's cameras failed")

    def poll_once(self, timeout: float) -> None:
        import ray
        from ray.exceptions import RayError

        with self._lock:
            cameras = dict(self._cameras)
        for camera in cameras.values():
            if camera.pending is None:
                wanted = {"fmp4": camera.view.fmp4.wanted(), "mjpeg": camera.view.mjpeg.wanted()}
                camera.pending = camera.actor.poll.remote(wanted)
        waiting = {c.pending: (n, c) for n, c in cameras.items() if c.pending is not None}
        if not waiting:
            return  # no camera runs on the cluster (yet)
        done, _ = ray.wait(list(waiting), num_returns=len(waiting), timeout=timeout)
        for ref in done:
            name, camera = waiting[ref]
            camera.pending = None
            try:
                poll: Poll = ray.get(ref)
            except RayError as error:  # its node or process died: Ray is moving it
                log.info("%s: no answer from its actor (%s)", name, type(error).__name__)
                camera.view.close()  # its viewers reconnect, to the new process
                continue
            if camera.last is not None and camera.last.instance != poll.instance:
                log.warning("%s: now on node %s (was %s)", name, poll.node, camera.last.node)
                camera.view.close()  # its viewers' streams were the old process's
            else:
                self._relay_live(camera.view, poll)
            camera.last, camera.answered = poll, time.time()
            with self._lock:
                if self._cameras.get(name) is camera:
                    self.placed[name] = poll.node
            self._tell(poll.changes)

    @staticmethod
    def _relay_live(view: RelayedView, poll: Poll) -> None:
        for (kind, key), chunks in poll.live.items():
            (view.fmp4 if kind == "fmp4" else view.mjpeg).deliver(key, chunks)
        for kind, key in poll.ended:
            (view.fmp4 if kind == "fmp4" else view.mjpeg).end(key)
        if poll.overlay is not None:
            view.overlay.update(poll.overlay)

    def _tell(self, changes: Sequence[tuple[Change, Event]]) -> None:
        for change, event in changes:
            for listener in self._listeners:
                try:
                    listener(change, event)
                except Exception:
                    log.exception("a listener failed on a cluster camera's event %s", event.id)

    def close(self) -> None:
        """Stops every camera's actor (each flushes its event and segment), in parallel."""
        with self._lock:
            names = list(self._cameras)
        threads = [threading.Thread(target=self.stop, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self._services:
            from hearthcam.cluster.detector import stop_services

            log.info("detector services stopped: %d", stop_services(self._settings))


class _LiveViews(Mapping[str, LiveSource]):
    """``RayCameras.live``: read at each access, so cameras started later are in it."""

    def __init__(self, cameras: RayCameras) -> None:
        self._cameras = cameras

    def __getitem__(self, name: str) -> LiveSource:
        view = self._cameras.view(name)
        if view is None:
            raise KeyError(name)
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._cameras.names())

    def __len__(self) -> int:
        return len(self._cameras.names())
