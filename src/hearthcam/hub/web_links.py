"""``HomeHubLinks``: the web app's ``HubLinks`` over ``hub.linking``, for one data directory.

The composition root builds it and hands it to the app; each call says what failed as a
``web.hub_links.HubLinkFailed`` whose ``failure`` the routes answer by. ``on_change`` is told
after a link or an unlink, so the home's delivery takes it in at once (the receipts of an
unlink, the first check of a new hub's view log).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from hearthcam.hub.client import HubRefused, HubUnreachable
from hearthcam.hub.home import HomeLink
from hearthcam.hub.identity import HubError
from hearthcam.hub.linking import (
    AlreadyLinked,
    HomeFilesError,
    NotAHubAddress,
    NotLinked,
    UnknownToHub,
    current_link,
    default_name,
    link_home,
    unlink_home,
)
from hearthcam.web.hub_links import HubLinkFailed, HubUnlinked, LinkedHub, LinkFailure

__all__ = ["HomeHubLinks"]


def _shown(link: HomeLink) -> LinkedHub:
    terms = link.terms
    return LinkedHub(
        address=link.url, home_id=link.home_id, linked_at=link.linked_at,
        fingerprint=link.fingerprint, keeps_log=link.log_key is not None,
        operator=None if terms is None else terms.operator,
        annotators_in=None if terms is None else terms.annotators_in,
        keep_days=None if terms is None else terms.keep_days,
    )  # fmt: skip


# The hub's reasons for refusing a code (hub.server), as the admin reads them.
_CODE_REFUSALS: Final = {
    "unknown or used code": "it is unknown there, or was used already",
    "expired code": "it has expired",
}


def _failure(error: HubError) -> LinkFailure:
    """What kind of failure a linking error is (a refused code and a link there already are
    told apart by ``_answered``)."""
    if isinstance(error, NotAHubAddress):
        return LinkFailure.ADDRESS
    if isinstance(error, NotLinked):
        return LinkFailure.NOT_LINKED
    if isinstance(error, HomeFilesError):
        return LinkFailure.HOME
    if isinstance(error, HubUnreachable):
        return LinkFailure.UNREACHABLE
    if isinstance(error, UnknownToHub):
        return LinkFailure.UNKNOWN
    return LinkFailure.HUB


@contextmanager
def _answered(doing: str, *, with_code: bool = False) -> Iterator[None]:
    """HubLinkFailed, with a message for a person, for whatever linking raised (``with_code``:
    the hub's 403 is its refusal of the one-time code)."""
    try:
        yield
    except AlreadyLinked as error:
        where = "" if error.link is None else f" to the hub at {error.link.url}"
        raise HubLinkFailed(
            LinkFailure.LINKED, f"this home is linked already{where}: unlink it first"
        ) from None
    except HubRefused as error:
        if with_code and error.status == 403:
            why = _CODE_REFUSALS.get(error.detail, error.detail)
            raise HubLinkFailed(
                LinkFailure.CODE,
                f"the hub refused the code: {why}; ask the hub's operator for a new one",
            ) from None
        raise HubLinkFailed(LinkFailure.HUB, f"{doing}: {error}") from None
    except HubError as error:
        raise HubLinkFailed(_failure(error), " ".join(str(error).split())) from None


class HomeHubLinks:
    """Links the home of ``data_dir`` to a review hub and unlinks it (``web.hub_links``)."""

    def __init__(self, data_dir: Path, on_change: Callable[[], None] = lambda: None) -> None:
        self._data_dir = data_dir
        self._on_change = on_change

    def current(self) -> LinkedHub | None:
        try:
            with _answered("reading the link"):
                return _shown(current_link(self._data_dir))
        except HubLinkFailed as error:
            if error.failure is LinkFailure.NOT_LINKED:
                return None
            raise

    def default_name(self) -> str:
        return default_name()

    def link(self, address: str, code: str, name: str | None) -> LinkedHub:
        with _answered("linking", with_code=True):
            made = link_home(self._data_dir, address, code, name)
        self._on_change()
        return _shown(made)

    def unlink(self, forget: bool = False) -> HubUnlinked:
        with _answered("unlinking"):
            done = unlink_home(self._data_dir, forget=forget)
        self._on_change()
        return HubUnlinked(done.link.url, len(done.receipts), done.forgotten)
