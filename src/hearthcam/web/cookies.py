"""The cookies: the session's, set after each login step and cleared at logout, and the
known device's, set at each completed login.

``hc_session`` is HttpOnly (scripts never read it), SameSite=Strict (no other site's request
carries it), Path=/ and Secure whenever the request came over HTTPS (to us, or to a trusted
proxy that says so) or the deployment says a TLS proxy sits in front. It lasts as long as the
session may (the server ends it earlier on idleness or logout).

``hc_device`` marks a browser that completed a login as one user (accounts.devices): signed,
bound to the username, HttpOnly, SameSite=Strict, sent only to the login routes, kept 180
days and renewed at each login. It proves nothing by itself (the password is still asked); it
only keeps other clients' failures from throttling this browser.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from hearthcam.accounts import LoginState, SessionInfo, username_key
from hearthcam.accounts.devices import DEVICE_LIFETIME
from hearthcam.web.deps import SESSION_COOKIE
from hearthcam.web.services import WebServices


def _secure(conn: HTTPConnection, services: WebServices) -> bool:
    return services.proxies.https(conn) or services.secure_cookies


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


DEVICE_COOKIE = "hc_device"
DEVICE_PATH = "/api/login"  # login and its TOTP step: no other route has a use for it


def known_device(conn: HTTPConnection, services: WebServices, username: str) -> str | None:
    """The id of this browser's device if it completed a login as ``username`` before."""
    token = conn.cookies.get(DEVICE_COOKIE)
    return services.devices.device(token, username_key(username), services.clock())


def remember_device(
    response: Response,
    conn: HTTPConnection,
    services: WebServices,
    session: SessionInfo,
) -> None:
    """Marks this browser as a known device of the session's user once the login is complete
    (keeping its id if it was one already, so its own failure count goes on)."""
    if session.state is not LoginState.ACTIVE:
        return
    device = known_device(conn, services, session.username)
    token = services.devices.issue(username_key(session.username), services.clock(), device)
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=int(DEVICE_LIFETIME),
        path=DEVICE_PATH,
        secure=_secure(conn, services),
        httponly=True,
        samesite="strict",
    )
