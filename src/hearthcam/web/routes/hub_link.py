"""This installation's link to a review hub (the Settings page): an admin links it with the
hub's address and the one-time code its operator gave, and unlinks it; owners and admins read it.

The link belongs to the installation, not a household: only an admin changes it. Linking sends
nothing but this home's public key and name; its answer carries the hub's fingerprint (which the
admin compares with the one the operator shows) and its terms. Unlinking has the hub delete every
clip this home shared there, each with a signed receipt the home's server records. Failures are
one line naming what failed: 422 a bad address, 400 a code the hub refused (unknown, used or
expired), 409 linked already (or not linked, or this home's files for its hub are damaged), 424
the hub could not be reached, refused otherwise, or answered what does not check out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from hearthcam.accounts import Role
from hearthcam.web.deps import Admin, HubViewer, Services, csrf_protect
from hearthcam.web.hub_link_schemas import HubLinkIn, HubLinkOut, HubUnlinkOut
from hearthcam.web.hub_links import HubLinkFailed, HubLinks, LinkFailure
from hearthcam.web.routes.common import errors
from hearthcam.web.routes.shares import hub_log_out
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/hub", tags=["sharing"], dependencies=[Depends(csrf_protect)])

STATUS = {
    LinkFailure.ADDRESS: status.HTTP_422_UNPROCESSABLE_CONTENT,
    LinkFailure.CODE: status.HTTP_400_BAD_REQUEST,
    LinkFailure.LINKED: status.HTTP_409_CONFLICT,
    LinkFailure.NOT_LINKED: status.HTTP_409_CONFLICT,
    LinkFailure.HOME: status.HTTP_409_CONFLICT,
    LinkFailure.UNREACHABLE: status.HTTP_424_FAILED_DEPENDENCY,
    LinkFailure.UNKNOWN: status.HTTP_410_GONE,
    LinkFailure.HUB: status.HTTP_424_FAILED_DEPENDENCY,
}


def _links(services: WebServices) -> HubLinks:
    if services.hub_links is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this server does not link to a review hub")
    return services.hub_links


def _refused(error: HubLinkFailed) -> HTTPException:
    return HTTPException(STATUS[error.failure], str(error))


def _link_out(services: WebServices, can_manage: bool) -> HubLinkOut:
    log = hub_log_out(services.hub_log_check())
    links = services.hub_links
    default = links.default_name() if can_manage and links is not None else ""
    try:
        hub = None if links is None else links.current()
    except HubLinkFailed as error:
        return HubLinkOut(
            linked=True, can_manage=can_manage, default_name=default, log=log, problem=str(error)
        )
    if hub is None:
        return HubLinkOut(linked=False, can_manage=can_manage, default_name=default, log=log)
    shown = HubLinkOut.of(hub, can_manage, log)
    return shown.model_copy(update={"default_name": default})


@router.get("/link", response_model=HubLinkOut, responses=errors(401, 403))
def get_link(viewer: HubViewer, services: Services) -> HubLinkOut:
    """The review hub this installation is linked to, its terms and fingerprint, and the last
    check of its view log; ``can_manage`` for an admin, who may link and unlink."""
    return _link_out(services, viewer.role is Role.ADMIN)


@router.post("/link", response_model=HubLinkOut, responses=errors(400, 401, 403, 409, 422, 424))
def link_hub(body: HubLinkIn, _admin: Admin, services: Services) -> HubLinkOut:
    """Links this installation to the hub at ``address`` with its operator's one-time code;
    answers the link with the hub's fingerprint and terms."""
    try:
        _links(services).link(body.address, body.code, body.name)
    except HubLinkFailed as error:
        raise _refused(error) from None
    return _link_out(services, True)


@router.post("/unlink", response_model=HubUnlinkOut, responses=errors(401, 403, 409, 410, 424))
def unlink_hub(
    _admin: Admin,
    services: Services,
    forget: Annotated[
        bool,
        Query(
            description="if the hub does not know this home any more (410) or cannot be "
            "reached (424), forget the link here without its receipts"
        ),
    ] = False,
) -> HubUnlinkOut:
    """Unlinks: the hub deletes every clip this home shared there and signs a receipt for each;
    the shares end here. The link stays when the hub cannot be asked (424) or does not know
    this home any more (410), unless ``forget``."""
    try:
        done = _links(services).unlink(forget=forget)
    except HubLinkFailed as error:
        raise _refused(error) from None
    return HubUnlinkOut(address=done.address, deleted=done.deleted, forgotten=done.forgotten)
