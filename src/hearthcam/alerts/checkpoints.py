"""Sends the view log's signed checkpoints to the owners over the alert channels, on a schedule.

Every ``audit.checkpoint_every_hours`` (and once at start) the log is verified and the current
checkpoint signed, as ``hearthcam audit checkpoint`` does; each household with entries in the
log gets it when the log grew since the checkpoint it was last sent. The size last sent per
household is kept in ``audit-checkpoints-sent.json`` under the data directory, so a restart
neither repeats a checkpoint nor forgets to send a new one.

A checkpoint that left the box is evidence an attacker with the database cannot take back: a
log cut back below it fails ``audit verify --against`` (docs/privacy.md, view log threat model).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hearthcam.alerts.text import CheckpointNotice
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import checkpoint_json

log = logging.getLogger(__name__)

STATE_FILE = "audit-checkpoints-sent.json"  # under the data directory


def state_path(data_dir: Path) -> Path:
    """Where the sizes last sent per household are kept."""
    return data_dir / STATE_FILE


def notice(household_id: int, text: str) -> CheckpointNotice:
    """The message for one household from ``checkpoint_json``'s text (sent compact)."""
    value = json.loads(text)
    compact = json.dumps(value, separators=(",", ":"))
    return CheckpointNotice(household_id, int(value["size"]), str(value["root"]), compact)


class CheckpointSchedule:
    """Signs and hands on checkpoints; ``run_once`` is one pass, ``run_forever`` the loop."""

    def __init__(
        self,
        audit: AuditLog,
        send: Callable[[CheckpointNotice], list[str]],
        state: Path,
        every_hours: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``send`` queues a notice on the channels and names those that took it."""
        if audit.key is None:
            raise ValueError("checkpoints are signed: open the view log with its key")
        self._audit = audit
        self._send = send
        self._state = state
        self._every = every_hours * 3600.0
        self._clock = clock

    def sent(self) -> dict[int, int]:
        """The checkpoint size last sent per household (nothing yet: empty)."""
        try:
            value = json.loads(self._state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:  # sent again: a repeat costs nothing
            log.warning("view log checkpoints: cannot read %s (%s)", self._state, error)
            return {}
        if not isinstance(value, dict):
            return {}
        return {int(k): v for k, v in value.items() if k.isdigit() and isinstance(v, int)}

    def _remember(self, sent: dict[int, int]) -> None:
        temporary = self._state.with_name(self._state.name + ".tmp")
        temporary.write_text(json.dumps({str(k): v for k, v in sorted(sent.items())}), "utf-8")
        os.replace(temporary, self._state)

    def run_once(self) -> list[int]:
        """Signs the current checkpoint and sends it to each household whose last one is
        smaller; returns those households. Nothing is signed or sent from a log that fails
        verification (the owner's next ``audit verify`` names why)."""
        key = self._audit.key
        assert key is not None
        report = self._audit.verify()
        if not report.ok:
            log.error(
                "view log NOT intact (%d problems): no checkpoint signed or sent "
                "(hearthcam audit verify)",
                len(report.problems),
            )
            return []
        # The latest checkpoint again when the log has not grown: no new row each pass.
        checkpoint = self._audit.checkpoint(self._clock())
        households = sorted({e.entry.household_id for e in self._audit.entries()})
        sent = self.sent()
        due = [h for h in households if sent.get(h) != checkpoint.size]
        if not due:
            return []
        text = checkpoint_json(checkpoint, key.public_raw())
        done = []
        for household in due:
            message = notice(household, text)
            if not self._send(message):
                log.warning("view log checkpoint: no alert channel carries checkpoints")
                break
            sent[household] = message.size
            done.append(household)
        if done:
            self._remember(sent)
        return done

    def run_forever(self, stop: threading.Event) -> None:
        """A pass now, then one every ``every_hours`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # tried again at the next pass; the thread must not end
                log.exception("view log checkpoint pass failed")
            stop.wait(self._every)
