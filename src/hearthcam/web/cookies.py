"""The session cookie: how it is set after each login step and cleared at logout.

``hc_session`` is HttpOnly (scripts never read it), SameSite=Strict (no other site's request
carries it), Path=/ and Secure whenever the request came over HTTPS or the deployment says a
TLS proxy sits in front. It lasts as long as the session may (the server ends it earlier on
idleness or logout).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from hearthcam.accounts import SessionInfo
from hearthcam.web.deps import SESSION_COOKIE
from hearthcam.web.services import WebServices


def _secure(conn: HTTPConnection, services: WebServices) -> bool:
    return conn.url.scheme in ("https", "wss") or services.secure_cookies


def set_session_cookie(
    response: Response,
    conn: HTTPConnection,
    services: WebServices,
    token: str,
    session: SessionInfo,
) -> None:
    """Puts a new session token in the cookie, expiring with the session."""
    max_age = max(0, int(session.expires - services.clock()))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=_secure(conn, services),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, conn: HTTPConnection, services: WebServices) -> None:
    """Tells the browser to forget the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=_secure(conn, services),
        httponly=True,
        samesite="strict",
    )
