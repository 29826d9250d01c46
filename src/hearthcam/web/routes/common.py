"""What several route modules share: error responses for the OpenAPI spec, login plumbing."""

from __future__ import annotations

import math
from typing import Any

from fastapi import HTTPException, status
from starlette.requests import HTTPConnection
from starlette.responses import Response

from hearthcam.accounts import LoginFailure, LoginResult
from hearthcam.web.cookies import remember_device, set_session_cookie
from hearthcam.web.schemas import ErrorOut, StateOut
from hearthcam.web.services import WebServices

MAX_USER_AGENT = 256


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: these status codes answer ``{"detail": ...}``."""
    return {code: {"model": ErrorOut} for code in codes}


def client_ip(conn: HTTPConnection, services: WebServices) -> str:
    """The address login throttling counts against (forwarded only by a trusted proxy)."""
    return services.proxies.client(conn)


def user_agent(conn: HTTPConnection) -> str:
    """The client's User-Agent, bounded (it is stored with the session)."""
    return conn.headers.get("user-agent", "")[:MAX_USER_AGENT]


def throttled(result: LoginResult) -> HTTPException:
    """429 with Retry-After in whole seconds."""
    wait = max(1, math.ceil(result.retry_after))
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        "too many attempts; try again later",
        headers={"Retry-After": str(wait)},
    )


def raise_failure(result: LoginResult, wrong: tuple[int, str]) -> None:
    """Raises the HTTP error for a failed login step (``wrong``: the code and words for a wrong
    password or code); returns if the step succeeded."""
    if result.failure is None:
        return
    if result.failure is LoginFailure.THROTTLED:
        raise throttled(result)
    if result.failure is LoginFailure.NO_SESSION:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    raise HTTPException(*wrong)


def open_session(
    response: Response, conn: HTTPConnection, services: WebServices, result: LoginResult
) -> StateOut:
    """Sets the cookie of a login step's new session and returns its state and CSRF token."""
    token = result.token
    session = None if token is None else services.accounts.session(token, services.clock())
    if token is None or session is None:
        # The session ended between the step and this read (a concurrent logout everywhere).
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    set_session_cookie(response, conn, services, token, session)
    remember_device(response, conn, services, session)
    return StateOut(state=session.state, csrf_token=session.csrf_token)
