"""Wires the stages for one camera and runs them on threads; the only module that knows them all.

Per camera: the source's I/O thread demuxes, copies record packets into segments and hands
sampled detect frames to a bounded queue; an analysis thread runs motion -> detect (only where
something moved) -> track -> events, and hands each event change to the event sink
(``pipeline.sink``: snapshot, row, listeners). Clips are cut by the clip cutter
(``pipeline.clipper``) on a small shared worker pool once the segment holding the post-roll is
closed (the recorder is asked to cut there early). The alert decision is not here: it is a
listener with its own thread (``alerts.decision``).

A write the disk has no room for (a segment, clip, snapshot or row: ``errors.is_disk_full``) is
not a bug: it is reported once per run of repeats in the camera's health as "disk full: ...",
told to ``PipelineParts.disk_full`` (which wakes retention), and the next write tries again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from av.packet import Packet
from av.video.stream import VideoStream
from numpy.typing import NDArray

from hearthcam.config import CameraConfig, Config, ObjectsConfig
from hearthcam.errors import is_disk_full
from hearthcam.labels import COCO_LABELS, VEHICLE_LABELS
from hearthcam.live import LiveView
from hearthcam.live.overlay import make_overlay
from hearthcam.pipeline.clipper import (
    ClipCutter,
    ClipParts,
    ClipWindow,
    RecordedClips,
    RowsWithBacklog,
)
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.events import Change, EventBuilder, EventChange, VerdictModel
from hearthcam.pipeline.familiar import FamiliarVerdict
from hearthcam.pipeline.health import CameraHealth, HealthMonitor
from hearthcam.pipeline.load import CameraLoad, LoadMeter, ThreadCpu
from hearthcam.pipeline.motion import MotionDetector
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.pipeline.sink import EventSink, JpegSnapshots
from hearthcam.pipeline.stats import CameraStats, remember
from hearthcam.pipeline.track import Tracker
from hearthcam.pipeline.zones import Zone, build_zones, zones_hit
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClips
from hearthcam.types import (
    Detections,
    Event,
    EventListener,
    FaceWatch,
    Frame,
    MotionResult,
    Segment,
    Verdict,
)
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)


class ObjectFilter:
    """Keeps tracked labels: detections above a low floor and min area go to the tracker (so
    ByteTrack's second stage can continue tracks), tracks count once their best score reaches
    their label's min score."""

    def __init__(self, objects: ObjectsConfig, frame_area: float, floor: float = 0.3) -> None:
        self._min_score = np.full(len(COCO_LABELS), np.inf, dtype=np.float32)
        self._min_area = np.zeros(len(COCO_LABELS), dtype=np.float32)
        for label in objects.track:
            i = COCO_LABELS.index(label)
            rule = objects.filters.get(label)
            self._min_score[i] = rule.min_score if rule else objects.min_score
            self._min_area[i] = (rule.min_area if rule else 0.0) * frame_area
        self._floor = np.minimum(self._min_score, floor)
        self.lowest_min_score = float(self._min_score.min())
        self._best: dict[int, float] = {}

    def candidates(self, dets: Detections) -> Detections:
        """Detections the tracker should see."""
        if not len(dets):
            return dets
        wh = dets.xyxy[:, 2:] - dets.xyxy[:, :2]
        area = wh[:, 0] * wh[:, 1]
        ok = (dets.confidence >= self._floor[dets.class_id]) & (
            area >= self._min_area[dets.class_id]
        )
        return dets[ok]

    def forget(self, alive: set[int]) -> None:
        """Drops the best scores of tracks that ended."""
        self._best = {k: v for k, v in self._best.items() if k in alive}

    def confirmed(self, tracked: Detections) -> Detections:
        """Tracked detections whose track has reached its label's min score at least once."""
        keep = np.zeros(len(tracked), dtype=bool)
        for i, (tid, score, cls) in enumerate(
            zip(tracked.tracker_id, tracked.confidence, tracked.class_id, strict=True)
        ):
            best = max(self._best.get(int(tid), 0.0), float(score))
            self._best[int(tid)] = best
            keep[i] = best >= self._min_score[cls]
        return tracked[keep]


#: How far (of the frame diagonal) a tracked vehicle must have moved from where it was first seen
#: before it counts for events: over the jitter of a parked one's box (vtest.avi's truck: under
#: 0.01).
MIN_TRAVEL = 0.015
_VEHICLE = np.array([label in VEHICLE_LABELS for label in COCO_LABELS], dtype=bool)


def _overlapping(boxes: NDArray[np.float32], others: NDArray[np.int32]) -> NDArray[np.bool_]:
    """For each box, whether it intersects any of ``others`` (all xyxy)."""
    if not len(others):
        return np.zeros(len(boxes), dtype=bool)
    a, b = boxes[:, None, :], others[None, :, :].astype(np.float32)
    inter_w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    inter_h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.asarray(((inter_w > 0) & (inter_h > 0)).any(axis=1), dtype=bool)


def _never_alerted(_event_id: str) -> bool:
    return False


def _ignore_disk_full(_message: str, _at: float) -> None:
    pass


@dataclass(frozen=True)
class PipelineParts:
    """What a camera pipeline shares with the others."""

    config: Config
    detector: Detector
    store: Store
    verdict: VerdictModel
    clip_pool: Executor
    listeners: Sequence[EventListener] = ()
    clock: Callable[[], float] = time.time
    # How segments, clips and snapshots reach the disk (the composition root seals them).
    media: MediaIO = field(default_factory=PlainMedia)
    # Which events the alert decision has flagged so far, so their later changes reach the
    # listeners flagged too (``alerts.decision.AlertDecisions.alerted``).
    alerted: Callable[[str], bool] = _never_alerted
    # Told (message, wall time) when a write found the disk full (``StorageWatch.write_failed``).
    disk_full: Callable[[str, float], None] = _ignore_disk_full
    # Familiar faces (``vision.familiar_watch``): looks at people's faces; None when unused.
    faces: FaceWatch | None = None


class CameraPipeline:
    """One camera's analysis and recording; the source calls into it (it is the StreamSink)."""

    def __init__(self, name: str, camera: CameraConfig, parts: PipelineParts, lossless: bool):
        self.name = name
        self.stats = CameraStats()
        self._health = HealthMonitor(name, log)
        self._load = LoadMeter(name)
        self._cam = camera
        self._geometry_changed = False
        self._parts = parts
        self._cfg = parts.config
        self._lossless = lossless
        self._size = (0, 0)
        self._motion: MotionDetector | None = None
        self._zones: list[Zone] = []
        self._filter: ObjectFilter | None = None
        self._tracker = Tracker()
        self._events = camera.events_over(parts.config.events)
        verdict = (
            parts.verdict if parts.faces is None else FamiliarVerdict(parts.verdict, parts.faces)
        )
        self._builder = EventBuilder(name, self._events, verdict)
        self._frames: queue.Queue[Frame | None] = queue.Queue(maxsize=8 if not lossless else 32)
        self._media = parts.config.data_dir
        # Live view (fMP4 by stream copy, MJPEG fallback): cheap while nobody watches.
        self.live = LiveView(name)
        self._recorder = SegmentRecorder(
            name,
            self._media / "recordings",
            parts.config.record.segment_seconds,
            self._on_segment,
            parts.media,
        )
        self._sink = EventSink(
            parts.store,
            JpegSnapshots(parts.media),
            self._media,
            parts.listeners,
            parts.alerted,
            on_disk_full=self._disk_full,
        )
        # Finished segments whose rows the full disk refused so far (written with the next);
        # replaced whole, never changed in place, so the clip pool reads it without a lock.
        self._unindexed: tuple[Segment, ...] = ()
        clip_parts = ClipParts(
            RowsWithBacklog(parts.store, lambda: self._unindexed),
            PendingClips(parts.store),
            RecordedClips(parts.media),
            parts.clip_pool,
            self._media,
        )
        self._clips = ClipCutter(
            name, parts.config.record, clip_parts, self._clip_ready, self.on_error, self._disk_full
        )
        self._last_frame: Frame | None = None
        # While a frame is analysed, what the event open before it needs (``needed_from``): an
        # event that ends on this frame has no open event nor queued window to show for it
        # until its row is written and its clip queued, and a retention pass in that gap (the
        # row's write finding the disk full starts one) must not take its footage.
        self._holding: float | None = None
        self._tracker_boxes: NDArray[np.int32] = np.zeros((0, 4), dtype=np.int32)
        self._moving_until: dict[int, float] = {}
        self._thread = threading.Thread(
            target=self._analyse_loop, name=f"analyse-{name}", daemon=True
        )
        self._thread.start()

    # -- StreamSink: called on the source's I/O thread --------------------------------------
    def on_connected(self, info: object) -> None:
        """A stream opened."""
        log.info("%s: connected (%s)", self.name, info)
        self._health.connected()

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        """A packet of the record stream: copied into the current segment."""
        self.stats.packets += 1
        # Before recording, so the live view keeps working when recording is off or failing.
        self.live.write(packet, stream, wall)
        if self._cfg.record.enabled:
            try:
                self._recorder.write(packet, stream, wall)
            except Exception as error:
                if not is_disk_full(error):
                    raise
                self._disk_full(error)
                # What was being recorded is lost: the clips of events that ended by now get
                # no more footage, so they are cut from what there is (or wait for space)
                # rather than wait for a recording the full disk refuses, holding their
                # footage (and with it all after) from retention.
                self._clips.cut_ready(wall)

    def on_frame(self, frame: Frame) -> None:
        """A sampled detect frame: queued for analysis (dropped if analysis is behind, live)."""
        self.stats.frames_in += 1
        self._health.frame_in(frame.wall)
        self._load.frame_in()
        self.live.frame(frame)
        if self._lossless:
            self._frames.put(frame)
            return
        try:
            self._frames.put_nowait(frame)
        except queue.Full:
            self.stats.frames_dropped += 1
            self._health.frame_dropped()
            self._load.frame_dropped()

    def on_disconnected(self, last_wall: float, reason: str) -> None:
        """The camera dropped: what was recorded so far is finished and indexed now."""
        log.warning("%s: lost (%s); reconnecting", self.name, reason)
        self._health.disconnected()
        with self._room():
            self._recorder.close()

    def on_gap(self, start_wall: float, end_wall: float, reason: str) -> None:
        """The camera is back after a drop: the gap is recorded."""
        self.stats.gaps += 1
        with self._room():
            self._recorder.close()
        with self._room():
            self._parts.store.add_gap(self.name, start_wall, end_wall, reason)
        log.warning("%s: gap of %.1f s (%s)", self.name, end_wall - start_wall, reason)

    def on_error(self, message: str) -> None:
        """A reported, survivable problem (bad packet, failed connect)."""
        self.stats.errors.append(message)
        self._health.error(message)

    def health(self) -> CameraHealth:
        """How this camera is doing now (frames, connection, reconnects, last error)."""
        return self._health.snapshot()

    def load(self) -> CameraLoad:
        """How hard this camera works now (rates, detector time, its analysis CPU share)."""
        return self._load.snapshot()

    def _disk_full(self, error: BaseException) -> None:
        # One message per camera whatever was refused (segment, clip, snapshot, row), so a disk
        # that stays full is logged once and then counted, never a traceback per write.
        log.debug("%s: no room: %s", self.name, error)
        message = f"disk full: {self.name} cannot save new footage until space is freed"
        self._health.error(message)
        self._parts.disk_full(message, self._parts.clock())

    @contextmanager
    def _room(self) -> Iterator[None]:
        """Reports a write the disk had no room for (``_disk_full``); other errors go on."""
        try:
            yield
        except Exception as error:
            if not is_disk_full(error):
                raise
            self._disk_full(error)

    # -- analysis thread ---------------------------------------------------------------------
    def _analyse_loop(self) -> None:
        while True:
            frame = self._frames.get()
            if frame is None:
                return
            cpu = ThreadCpu()
            try:
                with cpu, self._room():  # the event's row or snapshot found no room: reported
                    self.analyse(frame)
            except Exception as error:  # a bug in one frame must not stop the camera
                # Logged once with its traceback, then counted: the same failure on every
                # frame must not flood the log, and the owner sees it in the camera's health.
                self._health.error(
                    f"{self.name}: analysis failed: {type(error).__name__}: {error}",
                    analysis=True,
                    exc_info=True,
                )
            finally:
                self._load.analysed(cpu.seconds)

    def _recently_moving(self, tracked: Detections, motion: MotionResult, pts: float) -> Detections:
        # Only objects that moved lately keep an event open and get re-checked: a parked car
        # found once because someone walked past it must not hold the event open for ever,
        # while a person who stops for a few seconds is still followed. For a vehicle, motion
        # over it is not enough: the motion detector's background takes seconds to forget
        # people who walked in front of a parked truck, so the vehicle itself must have moved
        # (MIN_TRAVEL) to count (issue 12: a truck parked in vtest.avi held visits together).
        # People and pets count at once: waiting for them to move would start events late.
        if not len(tracked):
            return tracked
        hold = self._events.end_after
        travelled = {t.tracker_id: t.travel or 0.0 for t in self._tracker.active_tracks()}
        overlaps = _overlapping(tracked.xyxy, motion.boxes)
        keep = np.zeros(len(tracked), dtype=bool)
        for i, (tid, cls) in enumerate(zip(tracked.tracker_id, tracked.class_id, strict=True)):
            if overlaps[i]:
                self._moving_until[int(tid)] = pts + hold
            parked = _VEHICLE[cls] and travelled.get(int(tid), 0.0) < MIN_TRAVEL
            keep[i] = not parked and pts <= self._moving_until.get(int(tid), -np.inf)
        return tracked[keep]

    def _forget_ended_tracks(self) -> None:
        # Per-track bookkeeping would otherwise grow for as long as the camera runs.
        alive = {t.tracker_id for t in self._tracker.active_tracks()}
        self._moving_until = {k: v for k, v in self._moving_until.items() if k in alive}
        if self._filter is not None:
            self._filter.forget(alive)

    def _regions(self, motion: MotionResult) -> NDArray[np.int32]:
        boxes = motion.boxes
        if self._builder.current is not None and len(self._tracker_boxes):
            # Keep looking where tracked objects were, so one that stops moving is not lost.
            boxes = np.concatenate([boxes, self._tracker_boxes]).astype(np.int32)
        return boxes

    def _motion_for(self, frame: Frame) -> MotionDetector:
        # Size-dependent stages are built from the first frame: the detect size may follow the
        # source's aspect, which is only known once the stream is open.
        size = (frame.width, frame.height)
        if self._geometry_changed and self._motion is not None and size == self._size:
            self._geometry_changed = False
            self._motion.set_mask(self._cam.motion)
            self._zones = build_zones(self._cam.zones, *size)
        if self._motion is None or size != self._size:
            self._size = size
            self._motion = MotionDetector(self._cam.motion, *size)
            self._zones = build_zones(self._cam.zones, *size)
            # The camera's own objects, else the config's: the same for a camera from the
            # config file and one added in the app (which the config's cameras do not list).
            objects = self._cam.objects_or(self._cfg.objects)
            self._filter = ObjectFilter(objects, float(size[0] * size[1]))
            self._tracker = Tracker(track_thresh=self._filter.lowest_min_score, frame_size=size)
        return self._motion

    def set_geometry(self, camera: CameraConfig) -> None:
        """Takes new masks and zones (``camera``'s) from the next analysed frame on; tracks,
        the background and open events carry on."""
        self._cam = self._cam.model_copy(update={"motion": camera.motion, "zones": camera.zones})
        self._geometry_changed = True

    @property
    def last_pts(self) -> float:
        """Media time of the last analysed frame (0 before the first)."""
        frame = self._last_frame
        return frame.pts if frame is not None else 0.0

    def analyse(self, frame: Frame) -> list[EventChange]:
        """Runs motion, gated detection, tracking and events on one frame."""
        self._last_frame = frame
        self.stats.frames_analysed += 1
        self._health.frame_analysed()
        motion = self._motion_for(frame).detect(frame.image)
        regions = self._regions(motion)
        if motion.moving:
            self.stats.motion_frames += 1
        assert self._filter is not None
        if len(regions) and self._cam.detect.enabled:
            self.stats.inferences += 1
            started = time.perf_counter()
            found = self._parts.detector.detect_regions(frame.image, regions)
            self._load.inference(time.perf_counter() - started)
            detections = self._filter.candidates(found)
        else:
            detections = Detections.empty()
        tracked = self._filter.confirmed(self._tracker.update(detections, frame.pts))
        tracked = self._recently_moving(tracked, motion, frame.pts)
        self._tracker_boxes = tracked.xyxy.astype(np.int32)
        self.live.overlay.update(
            make_overlay(frame.wall, frame.width, frame.height, tracked, motion.boxes)
        )
        if self.stats.frames_analysed % 256 == 0:
            self._forget_ended_tracks()
        if self._parts.faces is not None and len(tracked):
            # Before the event is judged on this frame: a recognised face counts at once.
            self._parts.faces.look(frame, tracked)
        self._holding = self._open_needs()
        try:
            changes = self._builder.update(frame, motion, tracked, zones_hit(self._zones, tracked))
            for change in changes:
                self._handle(change)
        finally:
            self._holding = None
        return changes

    def _handle(self, change: EventChange) -> None:
        event, now = change.event, self._parts.clock()
        if change.change is Change.STARTED:
            remember(self.stats.event_created_at, event.id, now)
        if event.verdict is not Verdict.MOTION:
            remember(self.stats.verdict_at, event.id, now)
        try:
            written = self._sink.write(change)
        except Exception as error:
            if change.change is Change.ENDED and is_disk_full(error):
                # Its row could not be written: its clip is still cut (which saves the row), or
                # the event would stay open in the store without one.
                self._recorder.request_cut(self._clips.queue(change.event))
            raise
        if change.change is Change.ENDED:
            self._recorder.request_cut(self._clips.queue(written))

    # -- clips -------------------------------------------------------------------------------
    def _on_segment(self, segment: Segment) -> None:
        self.stats.segments += 1
        # A row the full disk refused is added with the next segment's (retention cannot see
        # a segment without its row); clips are cut all the same, from its file meanwhile.
        self._unindexed = (*self._unindexed, segment)
        try:
            while self._unindexed:
                try:
                    self._parts.store.add_segment(self._unindexed[0])
                except Exception as error:
                    if not is_disk_full(error):  # retrying would not help: reported, dropped
                        self._unindexed = self._unindexed[1:]
                    raise
                self._unindexed = self._unindexed[1:]
        finally:
            self._clips.cut_ready(segment.end)

    def _clip_ready(self, event: Event, late: bool) -> None:
        # A late clip (cut after an unlock) says nothing about how fast clips are made.
        if not late:
            remember(self.stats.clip_ready_at, event.id, self._parts.clock())
        self._sink.clip_ready(event)

    def cut_pending(self) -> int:
        """Cuts the clips that waited for this camera's household to be unlocked or for space;
        returns how many were cut (events deleted meanwhile are dropped)."""
        return self._clips.cut_pending()

    def needed_from(self) -> float | None:
        """The earliest wall time of footage the open event or a clip on its way needs (None:
        none), not counting clips waiting for space (``waiting_for_space``). Any thread."""
        # Read in this order, the reverse of the analysis thread's (hold, end the event, queue
        # its window, let go): whichever step that thread is at, one of the three covers it.
        opened = self._open_needs()
        holding = self._holding
        cutting = self._clips.needed_from()
        return min((t for t in (opened, holding, cutting) if t is not None), default=None)

    def _open_needs(self) -> float | None:
        """Where the open event's clip reaches back to: its pre-roll, widened to min_clip at
        most (None: no event is open)."""
        record, event = self._cfg.record, self._builder.current
        return None if event is None else event.wall_start - record.pre_roll - record.min_clip

    def waiting_for_space(self) -> list[ClipWindow]:
        """The clip windows a full disk refused, oldest first."""
        return self._clips.waiting_for_space()

    def give_up_clip(self, event_id: str) -> bool:
        """Drops a clip that waited for space; True if it waited."""
        return self._clips.give_up(event_id)

    # -- shutdown ----------------------------------------------------------------------------
    def drain(self) -> None:
        """Waits for every queued frame to be analysed, then ends the analysis thread."""
        self._frames.put(None)
        self._thread.join()

    def finish(self) -> None:
        """Ends open events, closes the recorder, and cuts every pending clip from what exists."""
        self.drain()
        if self._last_frame is not None:
            with self._room():
                for change in self._builder.finish(self._last_frame.pts, self._last_frame.wall):
                    self._handle(change)
        with self._room():
            self._recorder.close()
        self.live.close()
        self._health.stopped()
        self._clips.cut_ready(float("inf"))


def cut_locked_clips(parts: PipelineParts, cameras: Iterable[str]) -> int:
    """Cuts, in this process, the clips of ``cameras`` that waited for their household's unlock
    (password mode); returns how many were cut. For cameras whose pipelines run elsewhere (the
    cluster's actors): their nodes never hold a password-mode household's key, this server does
    once the owner signs in, and the segments and pending windows are in the shared data
    directory and database. Clips still locked stay pending; each clip cut is told to the
    listeners as the camera's own pipeline would tell it."""
    sink = EventSink(
        parts.store,
        JpegSnapshots(parts.media),
        parts.config.data_dir,
        parts.listeners,
        parts.alerted,
    )

    def ready(event: Event, _late: bool) -> None:
        sink.clip_ready(event)

    def failed(message: str) -> None:
        log.warning("%s", message)

    clip_parts = ClipParts(
        parts.store,
        PendingClips(parts.store),
        RecordedClips(parts.media),
        parts.clip_pool,
        parts.config.data_dir,
    )
    return sum(
        ClipCutter(camera, parts.config.record, clip_parts, ready, failed).cut_pending()
        for camera in cameras
    )
