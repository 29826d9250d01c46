"""The machine side of sharing a clip, fail-closed: scan, then redact and check, or nothing.

``ClipPreparer.prepare`` runs the intimate-content scan, then the redaction with its second
check, and returns a ``PreparedClip`` in one of three states: ``publishable`` (a redacted copy
that passed the check is at ``dst``), ``disposed`` (the scan was positive: the shared copy must
be deleted) or ``owner_only`` (anything else: an error, a timeout, a missing model, a refused
check). It never raises for a clip's sake and never leaves a file at ``dst`` unless publishable;
nothing here ever offers the unredacted original.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from hearthcam.config import Config
from hearthcam.pipeline.detect import Detector
from hearthcam.vision.faces import CenterFace, FaceDetector
from hearthcam.vision.media import ClipSource, Sink
from hearthcam.vision.redact import ClipPolicy, RedactionResult, Redactor, RedactStatus, redact_clip
from hearthcam.vision.sensitive import ScanVerdict, SensitiveScanner

log = logging.getLogger(__name__)


class ShareState(enum.StrEnum):
    """Where a shared clip stands after the machine checks."""

    PUBLISHABLE = "publishable"
    DISPOSED = "disposed"
    OWNER_ONLY = "owner_only"  # shown to people as "failed — owner only"


class Step(enum.StrEnum):
    """The steps of preparation, to name where one failed."""

    LOAD = "load"
    SCAN = "scan"
    REDACT = "redact"
    CHECK = "check"


@dataclass(frozen=True, slots=True)
class PreparedClip:
    """The outcome; ``redacted`` is set only when publishable, ``failure`` only when owner-only."""

    state: ShareState
    redacted: Path | None = None
    scan: ScanVerdict | None = None
    redaction: RedactionResult | None = None
    failed_step: Step | None = None
    failure: str | None = None

    @staticmethod
    def failed(step: Step, error: BaseException | str) -> PreparedClip:
        """An owner-only outcome naming the step and the error (also for load failures)."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return PreparedClip(ShareState.OWNER_ONLY, failed_step=step, failure=text)


class ClipPreparer:
    """Holds the loaded models and prepares one shared clip at a time."""

    def __init__(
        self,
        scanner: SensitiveScanner,
        faces: FaceDetector,
        people: Detector | None,
        redactor: Redactor | None = None,
        policy: ClipPolicy | None = None,
        deadline_s: float | None = 300.0,
    ) -> None:
        self.scanner, self.faces, self.people = scanner, faces, people
        self.redactor = redactor or Redactor()
        self.policy = policy or ClipPolicy()
        self.deadline_s = deadline_s

    def prepare(self, src: ClipSource, dst: Path, sink: Sink | None = None) -> PreparedClip:
        """Scans, redacts and checks ``src`` into ``dst`` (through ``sink``, which stores the
        checked bytes sealed, when given); see the module docstring."""
        started = time.monotonic()
        try:
            scan = self.scanner.scan_clip(src, self.deadline_s)
        except Exception as error:  # fail closed: every failure keeps the clip private
            log.warning("scan of %s failed, clip stays with its owner: %s", src, error)
            return PreparedClip.failed(Step.SCAN, error)
        if scan.positive:
            return PreparedClip(ShareState.DISPOSED, scan=scan)
        left = None if self.deadline_s is None else self.deadline_s - (time.monotonic() - started)
        policy = dataclasses.replace(self.policy, deadline_s=left)
        try:
            result = redact_clip(src, dst, self.faces, self.people, self.redactor, policy, sink)
        except Exception as error:  # redact_clip has removed its .part file already
            log.warning("redaction of %s failed, clip stays with its owner: %s", src, error)
            return dataclasses.replace(PreparedClip.failed(Step.REDACT, error), scan=scan)
        if result.status is not RedactStatus.PUBLISHED or result.path is None:
            text = _refusal(result)
            return dataclasses.replace(
                PreparedClip.failed(Step.CHECK, text), scan=scan, redaction=result
            )
        return PreparedClip(ShareState.PUBLISHABLE, result.path, scan, result)


def _refusal(result: RedactionResult) -> str:
    """Why the check refused, for the owner: what it found and where, in words."""
    check = result.check
    rounds = f"{result.rounds} round{'s' if result.rounds > 1 else ''} of redaction"
    found = f"{check.faces} in {check.frames_with_faces} frames"
    where = check.describe()
    if result.people_found == 0 and result.faces_found == 0:
        # No person anywhere: what the check took for a face may be an animal or a pattern.
        return (
            f"the face check still found face-like areas ({found}) after {rounds}, although no "
            f"person was detected in the clip: {where}"
        )
    return f"faces left after {rounds} ({found}): {where}"


def share_preparer(config: Config, people: Detector) -> ClipPreparer:
    """The models of the share checks, loaded (here, or on a cluster's worker)."""
    # One thread each: the checks run beside the cameras and must not starve them.
    # The redaction's detector pass on the original frames also gives the workbench's
    # pre-labels, on as many keyframes as the workbench shows.
    policy = ClipPolicy(label_keyframes=config.review.keyframes)
    return ClipPreparer(
        SensitiveScanner.load(threads=1), CenterFace(threads=1), people, policy=policy
    )
