"""The household's encryption at rest as the Account page shows it: password mode and locking.

See ``web.household_keys`` for what password mode means. Switching it on or off asks for the
caller's password again and is the owner's alone; any member may read the status. An owner who
finds the recordings locked (the server restarted since they signed in, or they pressed "Lock
now") opens them in place with their password, as signing in again would.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hearthcam.accounts import Role
from hearthcam.vault.keyring import KeyringError, WrongPassword
from hearthcam.web.deps import Member, Owner, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import EncryptionIn, EncryptionOut, UnlockIn

router = APIRouter(prefix="/api/me/encryption", tags=["me"], dependencies=[Depends(csrf_protect)])


@router.get("", response_model=EncryptionOut, responses=errors(401, 403))
def encryption_status(services: Services, member: Member) -> EncryptionOut:
    """Whether the household's recordings are encrypted, in password mode, and open now."""
    found = services.keys.status(member.household_id)
    return EncryptionOut(
        available=found.available,
        password_mode=found.password_mode,
        unlocked=found.unlocked,
        can_manage=member.session.role is Role.OWNER,
    )


@router.put("", response_model=EncryptionOut, responses=errors(400, 401, 403, 409))
def set_password_mode(body: EncryptionIn, services: Services, owner: Owner) -> EncryptionOut:
    """Ties the household's recordings to the owner's password, or unties them."""
    if not services.accounts.check_password(owner.session.user_id, body.password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the password is wrong")
    keys, household = services.keys, owner.household_id
    current = keys.status(household)
    if not current.available:
        raise HTTPException(status.HTTP_409_CONFLICT, "media are not encrypted at rest here")
    if current.password_mode == body.password_mode:
        return encryption_status(services, owner)
    try:
        if body.password_mode:
            keys.enable(household, body.password)
        else:
            keys.disable(household, body.password)
    except WrongPassword:
        # Another owner's password protects the key: only theirs can switch it off.
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the recordings are under another owner's password"
        ) from None
    except KeyringError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return encryption_status(services, owner)


@router.post(
    "/lock", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    responses=errors(401, 403, 409),
)  # fmt: skip
def lock_now(services: Services, owner: Owner) -> Response:
    """Forgets the opened household key until the owner signs in again."""
    try:
        services.keys.lock(owner.household_id)
    except KeyringError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/unlock", response_model=EncryptionOut, responses=errors(400, 401, 403, 409))
def unlock(body: UnlockIn, services: Services, owner: Owner) -> EncryptionOut:
    """Opens the household's locked recordings with the owner's password (what signing in
    again does); answers the status, also when they were open already."""
    if not services.accounts.check_password(owner.session.user_id, body.password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the password is wrong")
    keys, household = services.keys, owner.household_id
    if not keys.status(household).unlocked and not keys.unlock_at_login(household, body.password):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "the recordings are under another owner's password"
        )
    return encryption_status(services, owner)
