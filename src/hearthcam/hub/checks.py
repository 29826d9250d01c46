"""The hub's own checks of every clip a home sends, before any annotator may be offered it.

A home sends only a redacted copy that passed its own checks; the hub trusts none of that and
runs the intimate-content scan and the face check again, on the bytes it holds (decrypted in
memory, never to disk). A clip passes only if the scan is negative and the face check finds no
face in any frame (the same check, threshold and resolution the home's second check uses). A
clip that fails, or whose check fails in any way (a model that does not load, a decode error),
is *refused*: deleted at once (its key, then its file), and its home can read why together with
the signed deletion receipt (``GET /hub/v1/clips``, ``refused``). Fail-closed: a clip with no
check row is offered to nobody.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from hearthcam.hub.clips import HubClips, receipt_to_json
from hearthcam.hub.identity import HubError
from hearthcam.hub.registry import hub_clip_checks, hub_clips, open_hub_engine, reading, writing

log = logging.getLogger(__name__)

PASSED = "passed"
REFUSED = "refused"


class ClipInspector(Protocol):
    """Judges one clip: None when it may be offered, else why not (for its home)."""

    def inspect(self, opener: Callable[[], BinaryIO]) -> str | None: ...


class ModelInspector:
    """The intimate-content scan and the face check, with the project's models."""

    def __init__(self, threads: int = 1) -> None:
        from hearthcam.vision.check import check_clip
        from hearthcam.vision.faces import CenterFace
        from hearthcam.vision.redact import ClipPolicy, checker_of
        from hearthcam.vision.sensitive import SensitiveScanner

        self._scanner = SensitiveScanner.load(threads=threads)
        self._faces, self._threshold = checker_of(
            CenterFace(threads=threads), ClipPolicy().check_threshold
        )
        self._check = check_clip

    def inspect(self, opener: Callable[[], BinaryIO]) -> str | None:
        scan = self._scanner.scan_clip(opener)
        if scan.positive:
            return "the intimate-content scan was positive"
        report = self._check(opener, self._faces, self._threshold)
        if report.faces:
            where = report.describe()
            found = f"{report.faces} faces in {report.frames_with_faces} frames"
            return f"the face check found {found}: {where}"
        return None


def judge(inspector: ClipInspector, read: Callable[[], bytes]) -> str | None:
    """Why the clip ``read`` returns may not be offered (None: it may). Fail-closed: a clip
    that cannot be read or whose check fails in any way is refused, the failure its reason."""
    try:
        data = read()
        return inspector.inspect(lambda: io.BytesIO(data))
    except Exception as error:
        log.warning("the hub's check of a clip failed: %s: %s", type(error).__name__, error)
        return f"the check failed: {type(error).__name__}: {error}"


class RemoteChecks(Protocol):
    """The checks run elsewhere (``hub.remote.RayChecks``: tasks on a Ray cluster)."""

    def inspect(
        self, waiting: Sequence[tuple[int, str]], stop: threading.Event
    ) -> Iterator[tuple[int, str, str | None]]:
        """Each waiting clip's (home id, clip id, reason: None when it passed) as it comes. A
        clip whose check could not run (a model that does not load, a node lost) is not
        yielded: it waits, offered to nobody, for the next pass."""
        ...


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    home_id: int
    clip_id: str
    state: str
    reason: str


class HubChecks:
    """Checks the clips no check has judged yet; ``run_forever`` is the hub's worker."""

    def __init__(
        self,
        engine: Engine,
        clips: HubClips,
        inspector: Callable[[], ClipInspector],
        clock: Callable[[], float] = time.time,
        remote: RemoteChecks | None = None,
    ) -> None:
        """``inspector`` loads the models on first use (if it raises, the pass ends and the
        clips wait, offered to nobody). With ``remote``, the clips are checked there instead;
        what their checks found is recorded here."""
        self._engine = engine
        self._remote = remote
        self._clips = clips
        self._make = inspector
        self._inspector: ClipInspector | None = None
        self._clock = clock
        self._wake = threading.Event()

    @classmethod
    def from_url(
        cls,
        url: str,
        clips: HubClips,
        inspector: Callable[[], ClipInspector],
        remote: RemoteChecks | None = None,
    ) -> HubChecks:
        """Over the hub's database at ``url`` (migrated to this version at open)."""
        return cls(open_hub_engine(url, "the hub's checks"), clips, inspector, remote=remote)

    def close(self) -> None:
        self._engine.dispose()

    def unchecked(self) -> list[tuple[int, str]]:
        """(home id, clip id) of each held clip with no check yet, oldest first."""
        checked = select(hub_clip_checks.c.clip_id).where(
            hub_clip_checks.c.home_id == hub_clips.c.home_id,
            hub_clip_checks.c.clip_id == hub_clips.c.clip_id,
        )
        query = (
            select(hub_clips.c.home_id, hub_clips.c.clip_id)
            .where(~checked.exists())
            .order_by(hub_clips.c.received_at, hub_clips.c.id)
        )
        with reading(self._engine) as connection:
            return [(int(r.home_id), r.clip_id) for r in connection.execute(query)]

    def state(self, home_id: int, clip_id: str) -> str | None:
        """``passed``, ``refused`` or None (not checked yet)."""
        with reading(self._engine) as connection:
            return connection.execute(
                select(hub_clip_checks.c.state).where(
                    hub_clip_checks.c.home_id == home_id, hub_clip_checks.c.clip_id == clip_id
                )
            ).scalar()

    def refused(self, home_id: int) -> list[dict[str, object]]:
        """The home's clips the hub's checks refused: id, reason, when, deletion receipt."""
        query = select(hub_clip_checks).where(
            hub_clip_checks.c.home_id == home_id, hub_clip_checks.c.state == REFUSED
        )
        with reading(self._engine) as connection:
            return [
                {"clip_id": r.clip_id, "reason": r.reason, "checked_at": r.checked_at,
                 "receipt": None if r.receipt is None else json.loads(r.receipt)}
                for r in connection.execute(query)
            ]  # fmt: skip

    def run_once(self, stop: threading.Event | None = None) -> list[CheckOutcome]:
        """Checks every clip waiting now (here, or where ``remote`` runs them)."""
        waiting = self.unchecked()
        if not waiting:
            return []
        if self._remote is not None:
            found = self._remote.inspect(waiting, stop or threading.Event())
            return [self._conclude(home, clip, reason) for home, clip, reason in found]
        if self._inspector is None:
            self._inspector = self._make()
        inspector = self._inspector
        return [
            self._conclude(home, clip, judge(inspector, partial(self._clips.open, home, clip)))
            for home, clip in waiting
        ]

    def _conclude(self, home_id: int, clip_id: str, reason: str | None) -> CheckOutcome:
        """Records what the check found; a refused clip is deleted at once, with a receipt."""
        now = self._clock()
        receipt = None
        if reason is not None:
            deleted = self._clips.delete(home_id, clip_id, now)
            receipt = None if deleted is None else receipt_to_json(deleted)
        state = PASSED if reason is None else REFUSED
        self._record(home_id, clip_id, state, now, reason or "", receipt)
        log.info("hub check of a clip of home %d: %s", home_id, state)
        return CheckOutcome(home_id, clip_id, state, reason or "")

    def _record(
        self,
        home_id: int,
        clip_id: str,
        state: str,
        now: float,
        reason: str,
        receipt: dict[str, object] | None,
    ) -> None:
        row = {
            "home_id": home_id, "clip_id": clip_id, "state": state, "checked_at": now,
            "reason": reason, "receipt": None if receipt is None else json.dumps(receipt),
        }  # fmt: skip
        try:
            with writing(self._engine) as connection:
                connection.execute(insert(hub_clip_checks).values(**row))
        except HubError as error:
            if not isinstance(error.__cause__, IntegrityError):
                raise  # else: checked by another worker meanwhile

    def refuse(self, home_id: int, clip_id: str, reason: str) -> bool:
        """Refuses a clip after the fact (an annotator reported it): deleted at once, the reason
        and the deletion receipt kept for its home, as for a clip the checks refused; False if
        the hub held no such clip."""
        now = self._clock()
        deleted = self._clips.delete(home_id, clip_id, now)
        if deleted is None:
            return False
        receipt = json.dumps(receipt_to_json(deleted))
        with writing(self._engine) as connection:
            changed = connection.execute(
                update(hub_clip_checks)
                .where(hub_clip_checks.c.home_id == home_id, hub_clip_checks.c.clip_id == clip_id)
                .values(state=REFUSED, checked_at=now, reason=reason, receipt=receipt)
            ).rowcount
            if not changed:
                connection.execute(
                    insert(hub_clip_checks).values(
                        home_id=home_id, clip_id=clip_id, state=REFUSED, checked_at=now,
                        reason=reason, receipt=receipt,
                    )
                )  # fmt: skip
        log.info("a clip of home %d was refused after its check: %s", home_id, reason)
        return True

    def notify(self) -> None:
        self._wake.set()

    def run_forever(self, stop: threading.Event, interval: float = 10.0) -> None:
        while not stop.is_set():
            try:
                self.run_once(stop)
            except Exception:
                log.exception("the hub's checks failed; the clips wait, offered to nobody")
            self._wake.wait(interval)
            self._wake.clear()
