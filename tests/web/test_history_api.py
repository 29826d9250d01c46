"""The history API: a camera's recorded spans, gaps and event markers, and its recording as one
fMP4 stream (real segments from the real recorder, sealed on disk as a running hearthcam
writes them; real SQLite)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from hearthcam import mp4
from hearthcam.types import Segment, Verdict
from hearthcam.vault.media import SealedMedia
from hearthcam.vault.sealed import HEADER_SIZE, MAGIC
from hearthcam.web.ranges import DAMAGED
from hearthcam.web.routes.events import LOCKED
from tests.support.factories import read_frame_number
from tests.support.recording import record_clip
from tests.support.world import T0, World
from tests.web.conftest import ClientFor

FIRST = T0 - 3600  # the first span: the world's 2 s clip as two 1 s segments
SECOND = T0 - 3540  # the second, after a minute with the camera down
ORIGIN = T0 - 86400  # the page's timeline starts here
MEDIA = "/api/history/front/media"


def record(world: World, start: float) -> list[Segment]:
    return record_clip(
        world.services.media, world.store, world.data_dir, "front", world.clip_source, start
    )


@pytest.fixture
def recorded(world: World) -> list[Segment]:
    segments = record(world, FIRST) + record(world, SECOND)
    world.store.add_gap("front", FIRST + 2, SECOND, "connection lost")
    return segments


def decoded(data: bytes) -> list[tuple[float, int]]:
    """(presentation time in s, drawn frame number) of every frame of an MP4 stream."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        return [
            (
                float(frame.time),
                read_frame_number(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)),
            )
            for frame in container.decode(video=0)
        ]


def test_history_lists_merged_spans_gaps_and_event_markers_with_verdicts(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    assert len(recorded) == 4
    threat = world.add_event("front", FIRST + 0.5, Verdict.THREAT)
    pet = world.add_event("front", SECOND + 1, Verdict.PET)
    world.add_event("back", FIRST + 1, Verdict.THREAT)  # another camera
    world.add_event("front", FIRST - 7200, Verdict.MOTION)  # before the range
    answer = client_for("mia").get(
        "/api/history/front", params={"since": FIRST - 60, "until": SECOND + 60}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["camera_name"] == "Front door"
    assert body["media_url"] == "/api/history/front/media"
    assert body["spans"] == [
        {"start": FIRST, "end": pytest.approx(FIRST + 2), "segments": 2},
        {"start": SECOND, "end": pytest.approx(SECOND + 2), "segments": 2},
    ]
    assert body["gaps"] == [{"start": FIRST + 2, "end": SECOND, "reason": "connection lost"}]
    assert [(e["id"], e["verdict"], e["start"]) for e in body["events"]] == [
        (threat.id, "threat", FIRST + 0.5),
        (pet.id, "pet", SECOND + 1),
    ]
    assert body["events"][0]["labels"] == ["person"]
    assert body["events"][0]["url"] == f"/events/{threat.id}"
    # The default stretch is the 24 h up to now (the world's clock).
    default = client_for("alice").get("/api/history/front").json()
    assert (default["since"], default["until"]) == (T0 - 86400, T0)
    assert len(default["spans"]) == 2
    days = client_for("alice").get("/api/history/front", params={"hours": 72}).json()
    assert (days["since"], days["until"]) == (T0 - 3 * 86400, T0)


def test_ranges_and_windows_out_of_bounds_are_422(world: World, client_for: ClientFor) -> None:
    owner = client_for("alice")
    for params in (
        {"since": T0, "until": T0},
        {"since": T0 - 9 * 86400, "until": T0},
        {"hours": 193},
    ):
        assert owner.get("/api/history/front", params=params).status_code == 422
    for params in (
        {"since": T0, "until": T0 - 1},
        {"since": T0 - 1000, "until": T0},  # more than 15 min
        {"since": T0 - 10, "until": T0, "origin": T0 - 5},  # origin after since
    ):
        assert owner.get(MEDIA, params=params).status_code == 422


def test_only_the_household_sees_a_cameras_history_and_others_get_the_missing_answer(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    window = {"since": FIRST, "until": FIRST + 2}
    for path in ("/api/history/front", "/api/history/nosuch"):
        theirs = client_for("bob").get(path, params=window)
        assert (theirs.status_code, theirs.json()) == (404, {"detail": "not found"})
    ours = client_for("bob").get("/api/history/front/media", params=window)
    missing = client_for("bob").get("/api/history/nosuch/media", params=window)
    assert (ours.status_code, ours.content) == (missing.status_code, missing.content)
    assert ours.status_code == 404
    assert client_for("ada").get("/api/history/front").status_code == 403  # an admin
    assert client_for("ann").get("/api/history/front").status_code == 403  # an annotator
    assert client_for("").get("/api/history/front").status_code == 401
    assert client_for("mia").get(MEDIA, params=window).status_code == 200


def test_media_plays_successive_segments_as_one_timeline_from_one_init_segment(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    logged = len(world.services.audit.entries())
    answer = client_for("mia").get(
        MEDIA, params={"since": FIRST, "until": SECOND + 2, "origin": ORIGIN}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith('video/mp4; codecs="avc1.')
    assert answer.headers["cache-control"] == "no-store"
    data: bytes = answer.content
    top = [box.type for box in mp4.boxes(data)]
    assert top.count("moov") == 1  # the same stream: its init segment once
    assert top.count("moof") == 4  # one fragment per 1 s segment (a keyframe each second)
    frames = decoded(data)
    # Both spans' 20 frames each, in order, at wall time minus the origin.
    assert [number for _, number in frames] == list(range(20)) * 2
    times = [t for t, _ in frames]
    assert times[0] == pytest.approx(FIRST - ORIGIN)
    assert times[19] == pytest.approx(FIRST - ORIGIN + 1.9)  # over a segment boundary
    assert times[20] == pytest.approx(SECOND - ORIGIN)  # over the camera-down gap
    assert all(b - a == pytest.approx(0.1) for a, b in itertools.pairwise(times[:20]))
    # Members are the household: their views are not the view log's (as for event clips).
    assert len(world.services.audit.entries()) == logged


def test_a_window_starts_at_the_fragment_that_holds_since(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    answer = client_for("alice").get(
        MEDIA, params={"since": FIRST + 1.5, "until": FIRST + 1.8, "origin": ORIGIN}
    )
    frames = decoded(answer.content)
    assert [number for _, number in frames] == list(range(10, 20))  # the second segment
    assert frames[0][0] == pytest.approx(FIRST + 1 - ORIGIN)
    nothing = client_for("alice").get(MEDIA, params={"since": FIRST + 10, "until": FIRST + 20})
    assert nothing.status_code == 404
    assert nothing.json() == {"detail": "nothing was recorded then"}


def _vault_of(world: World) -> SealedMedia:
    sealed = world.services.media
    assert isinstance(sealed, SealedMedia)
    return sealed


def test_sealed_segments_locked_423_shredded_404_damaged_410(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    first = recorded[0].path
    assert first.read_bytes().startswith(MAGIC)  # sealed on disk, not an MP4
    vault = _vault_of(world).vault
    owner = client_for("alice")
    window = {"since": FIRST, "until": FIRST + 2}
    vault.keyring.enable_password(world.household_a, "owner's own password")
    vault.keyring.lock(world.household_a)
    locked = owner.get(MEDIA, params=window)
    assert (locked.status_code, locked.json()) == (423, {"detail": LOCKED})
    vault.keyring.unlock(world.household_a, "owner's own password")
    assert owner.get(MEDIA, params=window).status_code == 200

    damage(recorded[2].path)  # the second span's first segment
    broken = owner.get(MEDIA, params={"since": SECOND, "until": SECOND + 2})
    assert (broken.status_code, broken.json()) == (410, {"detail": DAMAGED})

    vault.keyring.shred(vault.blob_id(first))
    gone = owner.get(MEDIA, params=window)
    assert (gone.status_code, gone.json()) == (404, {"detail": "not found"})


def damage(path: Path) -> None:
    """Flips one ciphertext byte of the first chunk."""
    with open(path, "r+b") as handle:
        handle.seek(HEADER_SIZE + 5)
        byte = handle.read(1)
        handle.seek(HEADER_SIZE + 5)
        handle.write(bytes([byte[0] ^ 0x40]))


def test_a_later_segment_that_fails_is_left_out_and_the_rest_plays(
    world: World, client_for: ClientFor, recorded: list[Segment]
) -> None:
    damage(recorded[1].path)  # the first span's second segment
    recorded[3].path.unlink()  # the second span's last one, gone (as retention leaves it)
    answer = client_for("alice").get(
        MEDIA, params={"since": FIRST, "until": SECOND + 2, "origin": ORIGIN}
    )
    assert answer.status_code == 200
    frames = decoded(answer.content)
    assert [number for _, number in frames] == list(range(10)) * 2
    assert frames[10][0] == pytest.approx(SECOND - ORIGIN)
