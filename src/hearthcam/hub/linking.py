"""Linking a home to a review hub and unlinking it: the one place both happen.

``hearthcam hub link|unlink`` and the home's web app (an admin on the Settings page) call
``link_home`` and ``unlink_home``; each failure is a ``HubError`` subclass with a one-line
message that names what failed, for the CLI to print and the app to answer with. Linking
pins the hub's key and keeps the link in ``hub.json`` (``hub.home``); unlinking has the hub
delete every clip this home sent and leaves its signed receipts in ``hub-unlinked.json`` for
the home's server (``hub.delivery``) to take in. The running home reads the link anew each
time, so either counts at once.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from hearthcam.hub.client import HubClient, HubRefused, HubUnreachable
from hearthcam.hub.clips import DeletionReceipt, receipt_to_json
from hearthcam.hub.home import (
    HOME_IDENTITY,
    LINK_FILE,
    HomeLink,
    LinkDamaged,
    read_link,
    write_private,
    write_unlinked,
)
from hearthcam.hub.identity import HubError, Identity, load_or_create, public_key_from_b64

__all__ = [
    "AlreadyLinked",
    "HomeFilesError",
    "IdentityMissing",
    "LinkNotKept",
    "NotAHubAddress",
    "NotLinked",
    "UnknownToHub",
    "Unlinked",
    "check_hub_address",
    "client_for",
    "current_link",
    "default_name",
    "home_identity",
    "link_home",
    "unlink_home",
]

# The hub's own limit on a home's name (hub.server); refused here before the hub is asked.
NAME_MAX: Final = 100


class NotAHubAddress(HubError, ValueError):
    """The address given is not an http(s) URL with a host."""


class AlreadyLinked(HubError):
    """This home is linked to a hub already (``link``: that link, None if it is unreadable)."""

    def __init__(self, path: Path, link: HomeLink | None) -> None:
        self.path = path
        self.link = link
        super().__init__(f"this home is linked already ({path})")


class NotLinked(HubError):
    """This home is not linked to any hub."""


class HomeFilesError(HubError):
    """A file the home keeps for its hub cannot be read or written, or is damaged."""


class IdentityMissing(HomeFilesError):
    """The home is linked but its hub identity (the key the hub knows it by) is gone."""


class LinkNotKept(HomeFilesError):
    """The hub linked this home, but the link could not be written down at home."""


class UnknownToHub(HubError):
    """The hub, answering under its pinned key, does not know this home's key (any more)."""


@dataclass(frozen=True, slots=True)
class Unlinked:
    """An unlink done: the link it ended, and the hub's signed receipt for each clip it deleted."""

    link: HomeLink
    receipts: tuple[DeletionReceipt, ...]
    forgotten: str = ""  # why the link was forgotten here without the hub (empty: the hub unlinked)


def check_hub_address(url: str) -> str:
    """The hub's address without a trailing slash; NotAHubAddress unless it is http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotAHubAddress(f"{url!r} is not a hub address (http://host:port or https://host)")
    return url.strip().rstrip("/")


def default_name() -> str:
    """How a hub's operator sees a home whose owner chose no name: this machine's name."""
    return socket.gethostname()


def current_link(data_dir: Path) -> HomeLink:
    """The link in ``data_dir/hub.json``: NotLinked when there is none, HomeFilesError naming
    the file when it cannot be read or is damaged."""
    path = data_dir / LINK_FILE
    try:
        link = read_link(data_dir)
    except OSError as error:
        raise HomeFilesError(f"cannot read {path}: {error.strerror or error}") from None
    except LinkDamaged as error:
        raise HomeFilesError(
            f"the link file {path} is damaged ({error}); "
            "restore it from your backup, or remove it and link again"
        ) from None
    if link is None:
        raise NotLinked(f"this home is not linked to a hub (no {path})")
    return link


def home_identity(data_dir: Path) -> Identity:
    """The home's hub identity, which must exist once the home is linked (IdentityMissing)."""
    path = data_dir / HOME_IDENTITY
    if not path.is_file():
        raise IdentityMissing(
            f"this home's hub identity {path} is missing; restore it from your "
            "backup (the hub knows this home by it)"
        )
    return load_or_create(path)


def client_for(link: HomeLink, identity: Identity, timeout: float = 10.0) -> HubClient:
    """A client of the linked hub, holding it to the key pinned at linking."""
    return HubClient(link.url, identity, hub_key=public_key_from_b64(link.hub_key), timeout=timeout)


def link_home(data_dir: Path, url: str, code: str, name: str | None = None) -> HomeLink:
    """Links the home of ``data_dir`` to the hub at ``url`` with the operator's one-time
    ``code``, under ``name`` (default: this machine's name); pins the hub's key and writes
    ``hub.json``. The link made (its ``fingerprint`` is what the owner compares with the one
    the operator shows).

    Refused before the hub is asked (the code stays good): NotAHubAddress, AlreadyLinked,
    HomeFilesError (no data directory). From the hub: HubUnreachable, HubRefused (a code
    unknown, used or expired is its 403), HubError, SignatureError. LinkNotKept when the hub
    linked the home but ``hub.json`` could not be written."""
    hub_url = check_hub_address(url)
    path = data_dir / LINK_FILE
    if path.exists():
        try:
            link: HomeLink | None = read_link(data_dir)
        except (OSError, HubError):
            link = None
        raise AlreadyLinked(path, link)
    if not data_dir.is_dir():
        raise HomeFilesError(
            f"no data directory at {data_dir} "
            "(set data_dir in the config, or start `hearthcam run` once)"
        )
    try:
        identity = load_or_create(data_dir / HOME_IDENTITY)
    except OSError as error:  # the secrets folder cannot be made
        raise HomeFilesError(f"cannot keep this home's hub identity: {error}") from None
    with HubClient(hub_url, identity) as client:
        linked = client.link(code.strip(), name or default_name())
    made = HomeLink(
        url=hub_url,
        home_id=linked.home_id,
        hub_key=linked.hub_key_b64,
        log_key=linked.log_key_b64,
        linked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        terms=linked.terms,
    )
    try:
        write_private(path, json.dumps(made.as_json(), indent=2) + "\n")
    except OSError as error:
        raise LinkNotKept(
            f"linked as home {linked.home_id}, but cannot write {path}: {error.strerror or error}"
        ) from None
    return made


def unlink_home(data_dir: Path, forget: bool = False) -> Unlinked:
    """Unlinks the home of ``data_dir``: the hub deletes every clip it sent and refuses its key
    from then on. The hub's receipts (each checked against the pinned key) are left for the
    home's server in ``hub-unlinked.json``, then ``hub.json`` goes; the home keeps its identity
    (linked again to the same hub, it is the same home).

    With ``forget``, a hub that answers (under its pinned key) that it does not know this home,
    or that cannot be reached at all, does not keep the home linked: the link is forgotten here
    without receipts (``Unlinked.forgotten`` says why), and the home's server ends the shares
    made for that hub. A hub that could not be reached may still hold their copies until their
    keep time.

    NotLinked, HomeFilesError, IdentityMissing; from the hub: HubUnreachable, UnknownToHub,
    HubRefused, HubError, SignatureError (the link is kept on any of them)."""
    link = current_link(data_dir)
    identity = home_identity(data_dir)
    path = data_dir / LINK_FILE
    forgotten = ""
    receipts: list[DeletionReceipt] = []
    try:
        with client_for(link, identity) as client:
            receipts = client.unlink()
    except HubRefused as error:
        if error.detail != "unknown key":
            raise
        if not forget:
            raise UnknownToHub(
                f"{error} (the hub does not know this home any more: forget the link with "
                "`hearthcam hub unlink --forget`, or Unlink then Forget in the app)"
            ) from None
        forgotten = "the hub did not know this home any more"
    except HubUnreachable as error:
        if not forget:
            raise
        forgotten = f"the hub could not be reached ({error})"
    try:
        write_unlinked(data_dir, link.hub_key, [receipt_to_json(r) for r in receipts], forgotten)
        path.unlink()
    except OSError as error:
        raise HomeFilesError(
            f"the link ended, but {error.filename or data_dir} cannot be written: "
            f"{error.strerror or error}"
        ) from None
    return Unlinked(link, tuple(receipts), forgotten)
