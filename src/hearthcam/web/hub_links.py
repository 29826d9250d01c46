"""The installation's link to a review hub, as the web app sees it: an edge the app is handed.

The hub's side of linking (``hub.linking``) sits above the web in the layers, so the composition
root hands the app a ``HubLinks`` (``hub.web_links.HomeHubLinks``) and the routes map each
``HubLinkFailed`` to an HTTP answer by its ``failure``. A home with no ``HubLinks`` offers no
linking (``WebServices.hub_links`` None).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from hearthcam.errors import HearthcamError

__all__ = ["HubLinkFailed", "HubLinks", "HubUnlinked", "LinkFailure", "LinkedHub"]


class LinkFailure(enum.StrEnum):
    """What failed, for the answer's status: the caller's input, this home's state, the hub."""

    ADDRESS = "address"  # not an http(s) address of a host
    CODE = "code"  # the hub refused the one-time code: unknown, used or expired
    LINKED = "linked"  # this home is linked already
    NOT_LINKED = "not_linked"  # this home is not linked
    UNREACHABLE = "unreachable"  # nothing answered at the hub's address
    UNKNOWN = "unknown"  # the hub (under its pinned key) does not know this home any more
    HUB = "hub"  # the hub refused otherwise, or its answer did not check out
    HOME = "home"  # this home's files for its hub: damaged, missing, or not writable


class HubLinkFailed(HearthcamError):
    """Linking or unlinking failed; the message is one line naming what failed."""

    def __init__(self, failure: LinkFailure, message: str) -> None:
        self.failure = failure
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class LinkedHub:
    """The hub this home is linked to: where, this home's id there, the fingerprint of the key
    pinned at linking, and the terms its operator stated (``operator`` None: it states none, so
    no clip can be shared with it)."""

    address: str
    home_id: int
    linked_at: str
    fingerprint: str
    operator: str | None = None
    annotators_in: str | None = None
    keep_days: int | None = None
    keeps_log: bool = True  # whether it keeps a view log this home checks


@dataclass(frozen=True, slots=True)
class HubUnlinked:
    """An unlink done: the hub it was, and how many clips the hub deleted (each with a signed
    receipt, which the home's server records); ``forgotten``: why the link was forgotten here
    without the hub (empty: the hub unlinked)."""

    address: str
    deleted: int
    forgotten: str = ""


class HubLinks(Protocol):
    """Links this installation to a review hub, and unlinks it; raises HubLinkFailed."""

    def current(self) -> LinkedHub | None:
        """The hub linked now; None when none (HubLinkFailed HOME: the link file is damaged)."""
        ...

    def default_name(self) -> str:
        """How the hub's operator sees this home when the admin gives no name."""
        ...

    def link(self, address: str, code: str, name: str | None) -> LinkedHub:
        """Links to the hub at ``address`` with its operator's one-time ``code``."""
        ...

    def unlink(self, forget: bool = False) -> HubUnlinked:
        """Unlinks: the hub deletes every clip this home shared there. ``forget``: a hub that
        does not know this home any more, or cannot be reached, has the link forgotten here."""
        ...
