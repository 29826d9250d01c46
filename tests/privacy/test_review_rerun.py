"""The owner's "re-run the checks" of a failed share, through the real checker, models and
SQLite: back to waiting under the same receipt, recorded in the history, checked anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.privacy.consent import Sharing
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import RERUN_REASON, RerunRefused, ShareChecks, rerun
from hearthcam.store.shares import ShareRecord
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.prepare import ClipPreparer
from hearthcam.vision.sensitive import SensitiveScanner
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.vision_fakes import NoRedaction, Positive

pytestmark = pytest.mark.integration

OWNER = 7


def _share(sharing: Sharing, data_dir: Path, clip: Path) -> ShareRecord:
    event = event_with_clip(data_dir, clip)
    return sharing.share(event, 1, OWNER, "Front door", agreed(sharing, event), NOW)


def _get(sharing: Sharing, share_id: str) -> ShareRecord:
    stored = sharing.shares.get(share_id)
    assert stored is not None
    return stored


def test_a_failed_share_rerun_after_a_model_update_is_published(
    sharing: Sharing,
    data_dir: Path,
    carphone_clip: Path,
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    # The "old model": a redaction that leaves the faces, so the second check refuses.
    old = ShareChecks(sharing, lambda: ClipPreparer(scanner, faces, people, NoRedaction()))
    [failed] = old.run_once()
    failed_reason = failed.reason
    assert failed.status is ShareStatus.OWNER_ONLY
    assert _get(sharing, share.id).facts["failed_step"] == "check"

    waiting = rerun(sharing, share.id, OWNER, NOW + 60)
    assert waiting.status == "consented"
    assert waiting.reason == RERUN_REASON
    assert (waiting.receipt, waiting.receipt_sha256) == (share.receipt, share.receipt_sha256)
    move = waiting.history[-1]
    assert (move.event, move.before, move.after, move.by, move.at) == (
        "retry", "owner_only", "consented", OWNER, NOW + 60,
    )  # fmt: skip
    assert move.note == failed_reason

    # The "updated model": the real redaction; the checker picks the share up again.
    [outcome] = ShareChecks(sharing, lambda: ClipPreparer(scanner, faces, people)).run_once()
    assert outcome.status is ShareStatus.PUBLISHED
    stored = _get(sharing, share.id)
    assert stored.status == "published"
    assert stored.facts["faces_left"] == 0
    assert [(m.event, m.after, m.by) for m in stored.history] == [
        ("consent", "consented", OWNER),
        ("start_checks", "checking", None),
        ("checks_failed", "owner_only", None),
        ("retry", "consented", OWNER),
        ("start_checks", "checking", None),
        ("checks_passed", "published", None),
    ]


def test_a_disposed_share_cannot_be_rerun(
    sharing: Sharing, data_dir: Path, carphone_clip: Path, faces: CenterFace, people: OnnxDetector
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    checks = ShareChecks(
        sharing, lambda: ClipPreparer(SensitiveScanner([Positive()]), faces, people)
    )
    [outcome] = checks.run_once()
    assert outcome.status is ShareStatus.DISPOSED
    with pytest.raises(RerunRefused, match="Share the clip again"):
        rerun(sharing, share.id, OWNER, NOW + 60)
    stored = _get(sharing, share.id)
    assert stored.status == "disposed"
    assert stored.history[-1].event == "scan_positive"


def test_only_a_failed_share_can_be_rerun(
    sharing: Sharing, data_dir: Path, carphone_clip: Path
) -> None:
    share = _share(sharing, data_dir, carphone_clip)
    with pytest.raises(RerunRefused, match="only a failed share"):
        rerun(sharing, share.id, OWNER, NOW)
    with pytest.raises(RerunRefused, match="no such share"):
        rerun(sharing, "0" * 32, OWNER, NOW)
    assert len(_get(sharing, share.id).history) == 1  # the consent only
