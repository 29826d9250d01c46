"""First-start setup, login (password, then TOTP where needed) and logout.

Setup and the password step are the only state-changing routes without a CSRF token: there is
no session yet whose token could be echoed. They are still refused when a browser sends them
from another site (Origin), and the cookie's SameSite=Strict keeps other sites out of the rest.
Every login step ends the previous session and sets a fresh token (no session fixation).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from hearthcam.web.cookies import clear_session_cookie, known_device
from hearthcam.web.deps import (
    AnySession,
    MfaSession,
    Services,
    csrf_protect,
    same_origin_only,
    session_token,
)
from hearthcam.web.routes.common import (
    client_ip,
    errors,
    open_session,
    raise_failure,
    user_agent,
)
from hearthcam.web.schemas import CodeIn, LoginIn, SetupIn, SetupStatusOut, StateOut
from hearthcam.web.services import WebServices

# Login and setup: no CSRF token exists yet (see the module doc).
public = APIRouter(prefix="/api", tags=["auth"], dependencies=[Depends(same_origin_only)])
router = APIRouter(prefix="/api", tags=["auth"], dependencies=[Depends(csrf_protect)])

INVALID_LOGIN = (status.HTTP_401_UNAUTHORIZED, "invalid username or password")


@public.get("/setup", response_model=SetupStatusOut)
def setup_status(services: Services) -> SetupStatusOut:
    """Whether the first owner still has to be created."""
    return SetupStatusOut(needed=services.accounts.setup_allowed())


@public.post(
    "/setup",
    response_model=StateOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 409, 422, 429),
)
def setup(body: SetupIn, request: Request, response: Response, services: Services) -> StateOut:
    """Creates the first owner and their household (with every configured camera); logs in."""
    now = services.clock()
    services.accounts.setup(
        body.username, body.password, body.household, list(services.cameras()), now
    )
    result = services.accounts.authenticate(
        body.username,
        body.password,
        ip=client_ip(request, services),
        user_agent=user_agent(request),
        now=now,
        previous_token=session_token(request),
    )
    raise_failure(result, INVALID_LOGIN)
    return open_session(response, request, services, result)


@public.post("/login", response_model=StateOut, responses=errors(401, 403, 422, 429))
def login(body: LoginIn, request: Request, response: Response, services: Services) -> StateOut:
    """Checks a password; the answer says whether a TOTP code or an enrollment comes next."""
    result = services.accounts.authenticate(
        body.username,
        body.password,
        ip=client_ip(request, services),
        user_agent=user_agent(request),
        now=services.clock(),
        previous_token=session_token(request),
        device=known_device(request, services, body.username),
    )
    raise_failure(result, INVALID_LOGIN)
    _unlock(services, result.token, body.password)
    return open_session(response, request, services, result)


def _unlock(services: WebServices, token: str | None, password: str) -> None:
    """A right password opens the household's recordings if they are under it (password mode):
    the server could not read them since it started. The session still needs its TOTP step."""
    session = None if token is None else services.accounts.session(token, services.clock())
    if session is not None and session.household_id is not None:
        services.keys.unlock_at_login(session.household_id, password)


@router.post("/login/mfa", response_model=StateOut, responses=errors(401, 403, 422, 429))
def login_mfa(
    body: CodeIn,
    request: Request,
    response: Response,
    services: Services,
    session: MfaSession,
) -> StateOut:
    """Completes a login with a TOTP or recovery code."""
    token = session_token(request)
    if token is None:  # unreachable: MfaSession found a session behind this cookie
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    device = known_device(request, services, session.username)
    result = services.accounts.verify_mfa(token, body.code, services.clock(), device)
    raise_failure(result, (status.HTTP_401_UNAUTHORIZED, "invalid code"))
    return open_session(response, request, services, result)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403),
)
def logout(request: Request, services: Services, _session: AnySession) -> Response:
    """Ends the session."""
    token = session_token(request)
    if token is not None:
        services.accounts.logout(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, request, services)
    return response
