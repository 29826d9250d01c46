"""Users: an owner lists and adds or removes their household's members; an admin lists every
user and adds or removes admins and annotators. Neither route shows media."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hearthcam.web.deps import ManagedUser, Manager, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import UserCreatedOut, UserIn, UserOut

router = APIRouter(prefix="/api/users", tags=["users"], dependencies=[Depends(csrf_protect)])


@router.get("", response_model=list[UserOut], responses=errors(401, 403))
def list_users(manager: Manager, services: Services) -> list[UserOut]:
    """An owner's household, or (for an admin) every user."""
    users = services.accounts.list_users(manager.household_id)
    return [UserOut(id=u.id, username=u.username, role=u.role) for u in users]


@router.post(
    "",
    response_model=UserCreatedOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 422),
)
def create_user(body: UserIn, manager: Manager, services: Services) -> UserCreatedOut:
    """Adds a member (owner) or an admin or annotator (admin); they enroll TOTP if required."""
    if body.role not in manager.may_create:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you cannot add a {body.role.value}")
    user = services.accounts.create_user(
        body.username, body.password, body.role, manager.household_id, services.clock()
    )
    return UserCreatedOut(id=user.id)


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
