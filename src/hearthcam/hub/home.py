"""A home's link to its review hub, as kept in its data directory.

The home's hub identity lives in ``secrets/hub-identity.pem``, the link in ``hub.json`` (the
hub's address, the home's id there, the hub's two keys as pinned at linking, and the terms the
hub stated for shared clips), and what the home accepted of the hub's view log in
``hub-log-state.json``. ``hub.linking`` writes the link (``hearthcam hub link``, or an admin in
the app); the running home reads it each time it needs it (``destination``), so a link made or
removed beside a running server counts at once.

Unlinking (``hub.linking.unlink_home``) leaves the hub's signed deletion receipts for every
clip it held in ``hub-unlinked.json`` (with the key of the hub that signed them) for the home's
server to take in (``hub.delivery``): each delivery gets its receipt, and every share consented
for that hub ends (it can go nowhere else). The server takes the file in at its next pass, or
its next start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hearthcam.hub.identity import (
    HubError,
    b64_field,
    encode_b64,
    fingerprint_of,
    public_key_from_b64,
)
from hearthcam.hub.monitor import HomeLogState, checkpoint_to_json
from hearthcam.hub.terms import HubTerms, TermsError
from hearthcam.viewlog.signing import Checkpoint

if TYPE_CHECKING:
    from hearthcam.privacy.consent import HubDestination

__all__ = [
    "CHECK_FILE",
    "HOME_IDENTITY",
    "LINK_FILE",
    "STATE_FILE",
    "UNLINKED_FILE",
    "HomeLink",
    "LinkDamaged",
    "destination",
    "json_field",
    "read_check",
    "read_json",
    "read_link",
    "read_state",
    "state_json",
    "write_private",
]

LINK_FILE: Final = "hub.json"  # under the home's data directory
STATE_FILE: Final = "hub-log-state.json"  # under the home's data directory
UNLINKED_FILE: Final = "hub-unlinked.json"  # under the home's data directory, until taken in
CHECK_FILE: Final = "hub-log-check.json"  # the last scheduled round of the log check
HOME_IDENTITY: Final = Path("secrets") / "hub-identity.pem"  # under the home's data directory

log = logging.getLogger(__name__)


class LinkDamaged(HubError, ValueError):
    """A field of a file the home keeps for its hub that is missing or not of its kind."""


@dataclass(frozen=True, slots=True)
class HomeLink:
    """What ``hub.json`` holds: where the hub is, this home's id there, the hub's keys and the
    terms it stated (None for a hub that states none: no clip can be shared with it)."""

    url: str
    home_id: int
    hub_key: str
    log_key: str | None
    linked_at: str
    terms: HubTerms | None = None

    @property
    def fingerprint(self) -> str:
        """The pinned hub key as people compare it with the operator's (HubError: damaged)."""
        return fingerprint_of(public_key_from_b64(self.hub_key))

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "home_id": self.home_id,
            "hub_key": self.hub_key,
            "log_key": self.log_key,
            "linked_at": self.linked_at,
            "terms": None if self.terms is None else self.terms.to_json(),
        }


def write_private(path: Path, text: str) -> None:
    """Writes ``path`` (mode 0600) whole or not at all: beside it, fsynced, then renamed."""
    part = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    try:
        descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    finally:
        part.unlink(missing_ok=True)


def read_json(path: Path) -> object:
    """The JSON in ``path``; LinkDamaged if it is not JSON (OSError if it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise LinkDamaged(f"not JSON: {error}") from None


def json_field(data: object, name: str, kind: type) -> Any:
    """``data[name]``, which must be of ``kind`` (int: not a bool); LinkDamaged otherwise."""
    if not isinstance(data, dict) or name not in data:
        raise LinkDamaged(f"it has no {name}")
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = {int: "a number", str: "text", dict: "an object"}.get(kind, kind.__name__)
        raise LinkDamaged(f"its {name} is not {shown}")
    return value


def read_link(data_dir: Path) -> HomeLink | None:
    """The link in ``data_dir/hub.json``; None if there is none. LinkDamaged naming the field
    when it is damaged, OSError when it cannot be read."""
    path = data_dir / LINK_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    named = data.get("log_key") if isinstance(data, dict) else None
    log_key = None if named is None else json_field(data, "log_key", str)
    stated = data.get("terms") if isinstance(data, dict) else None
    try:
        terms = None if stated is None else HubTerms.from_json(stated)
    except TermsError as error:
        raise LinkDamaged(f"its terms: {error}") from None
    return HomeLink(
        url=json_field(data, "url", str),
        home_id=json_field(data, "home_id", int),
        hub_key=json_field(data, "hub_key", str),
        log_key=log_key,
        linked_at=json_field(data, "linked_at", str),
        terms=terms,
    )


def destination(data_dir: Path) -> HubDestination | None:
    """The hub a clip can be shared with now: None when the home is not linked, or its hub
    stated no terms, or the link file cannot be read (logged: sharing with the hub is then not
    offered, nothing else stops)."""
    from hearthcam.privacy.consent import HubDestination

    try:
        link = read_link(data_dir)
        if link is None or link.terms is None:
            return None
        fingerprint = link.fingerprint
    except (OSError, HubError) as error:
        log.warning("the hub link in %s cannot be read: %s", data_dir / LINK_FILE, error)
        return None
    terms = link.terms
    return HubDestination(
        link.url, terms.operator, terms.annotators_in, terms.keep_days, fingerprint
    )


def write_unlinked(
    data_dir: Path, hub_key_b64: str, receipts: list[dict[str, Any]], forgotten: str = ""
) -> Path:
    """Leaves the deletion receipts of an unlink for the home's server (added to any left
    before and not taken in yet); returns the file's path. ``forgotten``: why the link was
    forgotten here without the hub's receipts (empty for an unlink the hub did)."""
    path = data_dir / UNLINKED_FILE
    kept: list[dict[str, Any]] = []
    if path.is_file():
        earlier = read_json(path)
        if isinstance(earlier, list):
            kept = [item for item in earlier if isinstance(item, dict)]
    kept.append({"hub_key": hub_key_b64, "receipts": receipts, "forgotten": forgotten})
    write_private(path, json.dumps(kept, indent=2) + "\n")
    return path


def _head(head: object) -> Checkpoint:
    size, time_ms = json_field(head, "size", int), json_field(head, "time_ms", int)
    if size < 0 or time_ms < 0:
        raise LinkDamaged("its checkpoint's size and time are not whole numbers")
    root = _bytes(json_field(head, "root", str), "checkpoint.root")
    signature = _bytes(json_field(head, "signature", str), "checkpoint.signature")
    return Checkpoint(size, root, time_ms, signature)


def gossip_json(checkpoint: Checkpoint, log_key: str) -> str:
    """A checkpoint to hand to another home of the same hub (``hearthcam hub checkpoint``): the
    hub's log key it is signed by, and the checkpoint."""
    return json.dumps({"hub_log_key": log_key, "checkpoint": checkpoint_to_json(checkpoint)}) + "\n"


def read_gossip(text: str) -> tuple[str, Checkpoint]:
    """The log key and checkpoint of ``gossip_json``'s text; LinkDamaged naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise LinkDamaged(f"it is not JSON: {error}") from None
    return json_field(data, "hub_log_key", str), _head(json_field(data, "checkpoint", dict))


def state_json(state: HomeLogState, link: HomeLink) -> str:
    """The kept log state as ``hub-log-state.json`` holds it, for ``link``."""
    checkpoint = state.checkpoint
    kept = None if checkpoint is None else checkpoint_to_json(checkpoint)
    document = {
        # The link this state belongs to: another hub's log (after a new link) starts afresh.
        "log_key": link.log_key,
        "home_id": link.home_id,
        "checkpoint": kept,
        "seen": {str(index): encode_b64(data) for index, data in sorted(state.seen.items())},
    }
    return json.dumps(document, indent=2) + "\n"


def _bytes(value: object, name: str) -> bytes:
    return b64_field(value, name, LinkDamaged)


def _parse_state(data: object, link: HomeLink) -> HomeLogState | None:
    """The state kept for ``link``; None when it was kept for another link."""
    if not isinstance(data, dict):
        raise LinkDamaged("it is not a JSON object")
    if data.get("log_key") != link.log_key or data.get("home_id") != link.home_id:
        return None
    head = data.get("checkpoint")
    checkpoint = None if head is None else _head(head)
    seen = data.get("seen")
    if not isinstance(seen, dict):
        raise LinkDamaged("its seen entries are not an object")
    entries: dict[int, bytes] = {}
    for index, value in seen.items():
        if not (index.isascii() and index.isdigit()):
            raise LinkDamaged(f"seen entry {index!r} is not an index")
        entries[int(index)] = _bytes(value, f"seen entry {index}")
    return HomeLogState(checkpoint, entries)


def read_state(data_dir: Path, link: HomeLink) -> HomeLogState:
    """What the last clean round of checking the hub's view log kept for ``link`` (nothing
    kept, or kept for another link: an empty state). LinkDamaged, OSError."""
    path = data_dir / STATE_FILE
    if not path.exists():
        return HomeLogState()
    state = _parse_state(read_json(path), link)
    return HomeLogState() if state is None else state


def read_check(data_dir: Path) -> dict[str, Any] | None:
    """The last scheduled round of checking the hub's view log, as ``hub.delivery`` wrote it:
    ``checked_at``, ``url``, ``ok``, and ``views`` and ``size`` (ok) or ``findings`` (not ok).
    None when there was none (or it cannot be read: logged)."""
    path = data_dir / CHECK_FILE
    if not path.is_file():
        return None
    try:
        value = read_json(path)
    except (OSError, LinkDamaged) as error:
        log.warning("%s cannot be read: %s", path, error)
        return None
    return value if isinstance(value, dict) else None
