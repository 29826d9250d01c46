"""Events a crash left open get their clip and snapshot from the footage at the next start.

Real parts: recorded H.264 segments with numbered frames, SQLite, start-up recovery with the
app's finisher, plain media and (password mode, locked) sealed media.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
import pytest

from hearthcam import app
from hearthcam.accounts import Accounts
from hearthcam.config import RecordConfig
from hearthcam.pipeline.clips import clip_window
from hearthcam.pipeline.event_files import snapshot_path
from hearthcam.pipeline.recovered import RecoveredEvents, frame_at
from hearthcam.recordings.recovery import DOWNTIME_REASON, probe_duration, recover
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClip, PendingClips
from hearthcam.types import BGRImage, Event, Segment, Verdict
from hearthcam.vault.keyring import Keyring
from hearthcam.vault.media import PlainMedia, write_bytes
from tests.support.factories import make_segments, read_frame_number

T0 = 1_700_000_000.0
FPS = 10
RECORD = RecordConfig(segment_seconds=2, pre_roll=3, post_roll=2, min_clip=8, max_clip=15)
PASSWORD = "a long household passphrase"


def bgr(image: object) -> BGRImage:
    """An 8-bit BGR image, as decoders hand them out."""
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8
    return cast("BGRImage", image)


def open_event(snapshot: Path | None = None) -> Event:
    """A threat that started at T0 + 4 and was 0.6 s old when its last change was saved."""
    return Event(
        "e1", "front", Verdict.THREAT, ("person",), 40.0, 40.6, T0 + 4, T0 + 4.6, 0.9,
        snapshot=snapshot,
    )  # fmt: skip


def test_frame_at_decodes_the_frame_shown_at_a_wall_time(tmp_path: Path) -> None:
    segments = make_segments(tmp_path, "front", T0, 3, seconds=2.0, fps=FPS)
    for wall, number in ((T0, 0), (T0 + 2.95, 29), (T0 + 3.0, 30), (T0 + 5.5, 55)):
        assert read_frame_number(frame_at(segments, wall, PlainMedia())) == number


def test_an_open_event_gets_its_clip_and_a_snapshot_from_the_footage(
    store: Store, data_dir: Path
) -> None:
    segments = make_segments(data_dir / "recordings", "front", T0, 6, seconds=2.0, fps=FPS)
    for segment in segments[:5]:
        store.add_segment(segment)  # the last one is what recovery indexes
    store.save_event(open_event(), finished=False)
    media = PlainMedia()

    report = recover(
        store, data_dir, media=media, finisher=RecoveredEvents(RECORD, store, media, data_dir)
    )

    assert report.events_closed == 1
    event = store.get_event("e1")
    assert event is not None
    assert store.is_finished("e1")
    assert event.wall_end == pytest.approx(T0 + 12, abs=0.01)  # the footage ended there
    assert event.end - event.start == pytest.approx(8.0, abs=0.01)
    # The clip: the live window (3 s pre-roll, footage to its end) from the first keyframe.
    start, _ = clip_window(T0 + 4, T0 + 12, 3, 2, 8, 15)
    assert event.clip is not None
    assert probe_duration(event.clip) == pytest.approx(T0 + 12 - start, abs=0.15)
    with av.open(str(event.clip)) as clip:
        numbers = [
            read_frame_number(bgr(f.to_ndarray(format="bgr24"))) for f in clip.decode(video=0)
        ]
    assert numbers == list(range(10, 120))
    # The snapshot: the frame in the middle of the event's span.
    assert event.snapshot is not None
    image = cv2.imdecode(np.frombuffer(event.snapshot.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert read_frame_number(bgr(image)) == 80
    [gap] = store.gaps("front")
    assert gap.start == pytest.approx(T0 + 12, abs=0.01)
    assert gap.reason == DOWNTIME_REASON


def test_a_snapshot_written_live_is_kept(store: Store, data_dir: Path) -> None:
    segments = make_segments(data_dir / "recordings", "front", T0, 4, seconds=2.0, fps=FPS)
    for segment in segments:
        store.add_segment(segment)
    live = data_dir / "snapshots" / "live.jpg"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"\xff\xd8\xff written live")
    store.save_event(open_event(snapshot=live), finished=False)
    media = PlainMedia()
    recover(store, data_dir, media=media, finisher=RecoveredEvents(RECORD, store, media, data_dir))
    event = store.get_event("e1")
    assert event is not None
    assert event.snapshot == live
    assert event.clip is not None


def test_a_locked_household_gets_its_clip_as_a_pending_clip(
    store: Store, data_dir: Path, tmp_path: Path
) -> None:
    owner = Accounts(store).setup("owner", PASSWORD, "Home", ["front"], time.time())
    assert owner.household_id is not None
    keyring = Keyring.open(store, data_dir)
    keyring.ensure_household(owner.household_id)
    keyring.enable_password(owner.household_id, PASSWORD)
    locked = app.open_media(store, data_dir)  # a fresh keyring: nobody has unlocked it
    plain = make_segments(tmp_path / "plain", "front", T0, 6, seconds=2.0, fps=FPS)
    for segment in plain:
        sealed = data_dir / "recordings" / segment.path.relative_to(tmp_path / "plain")
        write_bytes(locked, sealed, "front", segment.path.read_bytes())  # to the public key
        store.add_segment(Segment("front", sealed, segment.start, segment.end))
    store.save_event(open_event(), finished=False)

    finisher = RecoveredEvents(RECORD, store, locked, data_dir)
    report = recover(store, data_dir, media=locked, finisher=finisher)

    assert report.events_closed == 1
    event = store.get_event("e1")
    assert event is not None
    assert store.is_finished("e1")
    assert event.wall_end == pytest.approx(T0 + 12, abs=0.01)
    assert event.clip is None  # cut when the owner unlocks the household
    assert event.snapshot is None  # the footage cannot be read while locked
    start, end = clip_window(T0 + 4, T0 + 12, 3, 2, 8, 15)
    assert PendingClips(store).of_camera("front") == [PendingClip("e1", "front", start, end)]
    assert len(store.gaps("front")) == 1


def test_a_snapshot_written_live_but_missing_from_the_row_is_used(
    store: Store, data_dir: Path
) -> None:
    # A verdict change (UPDATED) saves the row without the snapshot the start wrote.
    segments = make_segments(data_dir / "recordings", "front", T0, 4, seconds=2.0, fps=FPS)
    for segment in segments:
        store.add_segment(segment)
    live = snapshot_path(data_dir, open_event())
    live.parent.mkdir(parents=True)
    live.write_bytes(b"\xff\xd8\xff written live, with the boxes")
    store.save_event(open_event(), finished=False)
    media = PlainMedia()
    recover(store, data_dir, media=media, finisher=RecoveredEvents(RECORD, store, media, data_dir))
    event = store.get_event("e1")
    assert event is not None
    assert event.snapshot == live
    assert live.read_bytes() == b"\xff\xd8\xff written live, with the boxes"
