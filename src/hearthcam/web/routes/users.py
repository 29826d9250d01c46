"""Users: an owner lists, invites and removes their household's members and resets their TOTP;
an admin does the same for every user, and invites admins and annotators. Nobody sets another
person's password: an invited user (or one whose TOTP was reset) gets a one-time link to set
their own and enrol TOTP (``accounts.enrolment``). No route here shows media."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hearthcam.accounts import Invitation
from hearthcam.web.deps import ManagedUser, Manager, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.user_schemas import LinkOut, UserIn, UserOut

router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[Depends(csrf_protect)])


def link_out(invitation: Invitation) -> LinkOut:
    """The link as the page shows it (the token in the fragment: never sent to a server)."""
    user = invitation.user
    link = f"/enrol#{invitation.token}"
    return LinkOut(id=user.id, username=user.username, link=link, expires=invitation.expires)


@router.get("", response_model=list[UserOut], responses=errors(401, 403))
def list_users(manager: Manager, services: Services) -> list[UserOut]:
    """An owner's household, or (for an admin) every user."""
    now = services.clock()
    enrolment = services.accounts.enrolment
    return [
        UserOut(
            id=u.id,
            username=u.username,
            role=u.role,
            totp_enabled=u.totp_enabled,
            enrolment=enrolment.state(u.id, now),
        )
        for u in services.accounts.list_users(manager.household_id)
    ]


@router.post(
    "",
    response_model=LinkOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 422),
)
def create_user(body: UserIn, manager: Manager, services: Services) -> LinkOut:
    """Invites a member (owner) or an admin or annotator (admin): returns their one-time link."""
    if body.role not in manager.may_create:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you cannot add a {body.role.value}")
    invitation = services.accounts.enrolment.invite(
        body.username, body.role, manager.household_id, services.clock()
    )
    return link_out(invitation)


@router.post("/{user_id}/reset", response_model=LinkOut, responses=errors(401, 403, 404, 409, 422))
def reset_user(user: ManagedUser, services: Services) -> LinkOut:
    """Takes the user's password and TOTP away, signs them out everywhere and returns a new
    one-time link (also what to do when a link expired before it was used)."""
    invitation = services.accounts.enrolment.reset(user.id, services.clock())
    if invitation is None:  # removed meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return link_out(invitation)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 409, 422),
)
def delete_user(user: ManagedUser, services: Services) -> Response:
    """Removes a user, ends their sessions and forgets their browsers' push subscriptions."""
    services.accounts.delete_user(user.id)
    services.push.remove_user(user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
