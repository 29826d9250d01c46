"""The machine checks at the share level, with the real models on real footage: a clean clip
is published redacted; a positive scan destroys the copy; every failure keeps it owner only.

The positive scan is scripted with a fake scorer (the one place a fake may stand in for a
model: there is no real intimate footage to test with); every other step runs for real.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import av
import pytest

from hearthcam import app
from hearthcam.errors import ModelError, StoreError
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.privacy.consent import DISPOSED_COUNTER, Sharing, copy_path, redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import DISPOSED_REASON, ShareChecks
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.vault.media import write_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.media import ClipSource, Sink
from hearthcam.vision.prepare import ClipPreparer, PreparedClip
from hearthcam.vision.sensitive import SensitiveScanner
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.vision_fakes import NoRedaction, Positive

pytestmark = pytest.mark.integration


class _Crashing(ClipPreparer):
    def prepare(self, src: ClipSource, dst: Path, sink: Sink | None = None) -> PreparedClip:
        dst.write_bytes(b"half a clip")  # a crash may leave anything behind
        raise RuntimeError("segfault-like surprise")


def _share(sharing: Sharing, data_dir: Path, clip: Path) -> ShareRecord:
    event = event_with_clip(data_dir, clip)
    return sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)


def _status(sharing: Sharing, share: ShareRecord) -> ShareRecord:
    stored = sharing.shares.get(share.id)
    assert stored is not None
    return stored


def test_a_clip_with_a_face_is_published_redacted_and_nothing_else_changes(
    sharing: Sharing,
    data_dir: Path,
    carphone_clip: Path,
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    checks = ShareChecks(sharing, lambda: ClipPreparer(scanner, faces, people))
    [outcome] = checks.run_once()
    assert outcome.status is ShareStatus.PUBLISHED
    stored = _status(sharing, share)
    assert stored.status == "published"
    assert stored.facts["faces_blurred"] > 0
    assert stored.facts["faces_left"] == 0
    assert redacted_path(data_dir, share.id).is_file()
    assert copy_path(data_dir, share.id).is_file()  # the owner's private copy stays
    assert checks.run_once() == []  # nothing left to check


def test_a_positive_scan_destroys_the_copy_and_tells_the_owner_why(
    sharing: Sharing, data_dir: Path, carphone_clip: Path, faces: CenterFace, people: OnnxDetector
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    checks = ShareChecks(
        sharing, lambda: ClipPreparer(SensitiveScanner([Positive()]), faces, people)
    )
    [outcome] = checks.run_once()
    assert outcome.status is ShareStatus.DISPOSED
    stored = _status(sharing, share)
    assert stored.reason == DISPOSED_REASON
    # The owner is told which model and class decided; no score is kept.
    assert stored.facts["decided_by"] == {"model": "scripted", "label": "X"}
    assert "0.99" not in str(stored.facts)
    assert list((data_dir / "shares").rglob("*.mp4")) == []
    assert sharing.shares.counter(DISPOSED_COUNTER) == 1


FailingPreparer = Callable[[SensitiveScanner, CenterFace, OnnxDetector], ClipPreparer]


def _models_missing(s: SensitiveScanner, f: CenterFace, p: OnnxDetector) -> ClipPreparer:
    raise ModelError("nudenet/320n.onnx is missing")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_models_missing, "load step did not finish"),
        (lambda s, f, p: ClipPreparer(s, f, p, NoRedaction()), "faces could still be seen"),
        (lambda s, f, p: ClipPreparer(s, f, None), "redact step did not finish"),  # no detector
        (lambda s, f, p: _Crashing(s, f, p), "crashed"),
        (lambda s, f, p: ClipPreparer(s, f, p, deadline_s=0.0), "did not finish"),  # a timeout
    ],
    ids=["models-missing", "faces-left", "redaction-error", "crash", "timeout"],
)
def test_every_failure_keeps_the_clip_with_its_owner(
    sharing: Sharing,
    data_dir: Path,
    carphone_clip: Path,
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    make: FailingPreparer,
    why: str,
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    checks = ShareChecks(sharing, lambda: make(scanner, faces, people))
    [outcome] = checks.run_once()
    assert outcome.status is ShareStatus.OWNER_ONLY
    stored = _status(sharing, share)
    assert stored.status == "owner_only"
    assert stored.reason.startswith("Failed — owner only: ")
    assert why in stored.reason
    target = redacted_path(data_dir, share.id)
    assert not target.exists()
    assert not target.with_name(target.name + ".part").exists()


def test_a_share_withdrawn_during_its_check_leaves_nothing(
    sharing: Sharing,
    data_dir: Path,
    carphone_clip: Path,
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
) -> None:
    share = _share(sharing, data_dir, carphone_clip)

    class _WithdrawnMidway(ClipPreparer):
        def prepare(self, src: ClipSource, dst: Path, sink: Sink | None = None) -> PreparedClip:
            result = super().prepare(src, dst, sink)
            sharing.withdraw(share.id)  # the owner clicked Withdraw meanwhile
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(b"redacted bytes written after the withdrawal")
            return result

    checks = ShareChecks(sharing, lambda: _WithdrawnMidway(scanner, faces, people))
    assert checks.run_once() == []
    assert sharing.shares.count() == 0
    assert list((data_dir / "shares").rglob("*")) == []


def test_checks_that_died_with_the_process_start_again(
    sharing: Sharing, data_dir: Path, carphone_clip: Path
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    assert sharing.shares.set_status(share.id, "consented", "checking", NOW)
    redacted_path(data_dir, share.id).write_bytes(b"partial")
    checks = ShareChecks(sharing, lambda: _models_missing(*([None] * 3)))  # type: ignore[arg-type]
    assert checks.resume() == 1
    assert _status(sharing, share).status == "consented"
    assert not redacted_path(data_dir, share.id).exists()


def test_in_a_sealed_data_directory_no_plaintext_frame_is_ever_written(
    store: Store,
    data_dir: Path,
    carphone_clip: Path,
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
) -> None:
    media = app.open_media(store, data_dir)
    event = event_with_clip(data_dir, carphone_clip)
    assert event.clip is not None
    sealed_clip = event.clip.with_name(f"{event.id}.sealed.mp4")
    write_bytes(media, sealed_clip, event.camera, event.clip.read_bytes())
    event.clip.unlink()
    event = dataclasses.replace(event, clip=sealed_clip)
    assert plaintext_media_signatures(data_dir) == []
    sharing = Sharing(ShareStore(store), data_dir, media=media)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    [outcome] = ShareChecks(sharing, lambda: ClipPreparer(scanner, faces, people)).run_once()
    assert outcome.status is ShareStatus.PUBLISHED, outcome.reason
    assert plaintext_media_signatures(data_dir) == []  # copy and redacted copy are sealed
    redacted = redacted_path(data_dir, share.id)
    with media.open(redacted) as reader, av.open(cast(BinaryIO, reader), "r") as container:
        frames = len(list(container.decode(video=0)))
    assert frames == 45
    sharing.withdraw(share.id)
    assert not redacted.exists()
    with pytest.raises(StoreError):
        media.open(redacted)
