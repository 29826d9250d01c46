"""Who may do what: every authentication, CSRF and authorization decision of the web app.

Routes declare what they need as a dependency from here and nothing else checks a role:

- ``Services``: the ``WebServices`` from the lifespan state.
- ``csrf_protect`` (on every API router but login/setup): a state-changing request made with a
  session must echo the session's CSRF token in ``X-CSRF-Token``; a WebSocket handshake must come
  from the page's own origin. ``same_origin_only`` (login, setup): no session to forge yet, but a
  browser's cross-site POST is still refused by its Origin.
- Sessions by login state: ``AnySession`` (logout, /api/me), ``MfaSession`` (the TOTP step),
  ``EnrollSession`` (TOTP enrollment), ``ActiveSession`` (the rest).
- Capabilities: ``Member`` (owner or member: cameras, events, media, live; returns the
  household's camera set), ``Owner`` (settings), ``SystemViewer`` (an owner, their cameras'
  load, storage and log lines; an admin, the whole box's), ``Manager`` (owner: their
  members; admin: all users), ``AccountUser`` (an active non-annotator: password change),
  ``Annotator`` (the review workbench), ``Admin`` (the view log's flags, linking the review
  hub), ``HubViewer`` (an owner or an admin: the review hub this installation is linked to).
- Lookups, always through the caller's camera set: ``VisibleEvent``, ``VisibleCamera``,
  ``VisibleExport``, ``ManagedUser``. Another household's id answers the same 404, with the
  same body, after the same work (one primary-key read, one set test) as an id that does not
  exist.

Failures: no session or an unfinished login is 401; a role without the capability is 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Path, status
from starlette.requests import HTTPConnection

from hearthcam.accounts import Action, Role, SessionInfo, UserInfo, check_csrf, permits
from hearthcam.store.exports import ExportRecord
from hearthcam.types import Event
from hearthcam.web.schemas import CAMERA_NAME_PATTERN, EVENT_ID_PATTERN
from hearthcam.web.services import WebServices

SESSION_COOKIE = "hc_session"
CSRF_HEADER = "X-CSRF-Token"
# A real token is 43 characters; a longer cookie is not looked up at all.
MAX_TOKEN = 128
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

NOT_FOUND = "not found"


def _fail(code: int, detail: str) -> HTTPException:
    return HTTPException(code, detail)


def get_services(conn: HTTPConnection) -> WebServices:
    """The services the lifespan put in the app state."""
    services = getattr(conn.state, "services", None)
    if not isinstance(services, WebServices):
        raise RuntimeError("the app was started without its lifespan (no services in state)")
    return services


Services = Annotated[WebServices, Depends(get_services)]


def session_token(conn: HTTPConnection) -> str | None:
    """The session cookie's value, if it has a plausible length."""
    token = conn.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= MAX_TOKEN else None


def optional_session(conn: HTTPConnection, services: Services) -> SessionInfo | None:
    """The session behind the cookie (in any login state), or None."""
    token = session_token(conn)
    return None if token is None else services.accounts.session(token, services.clock())


MaybeSession = Annotated[SessionInfo | None, Depends(optional_session)]


# CSRF ------------------------------------------------------------------------------------------


def origin_matches(conn: HTTPConnection) -> bool | None:
    """Whether the Origin header names this server's Host; None if there is no Origin."""
    origin = conn.headers.get("origin")
    if origin is None:
        return None
    host = conn.headers.get("host", "")
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc.lower() == host.lower() != ""


def same_origin_only(conn: HTTPConnection) -> None:
    """Refuses a state-changing request that a browser sent from another site."""
    if conn.scope["type"] == "http" and conn.scope["method"] in SAFE_METHODS:
        return
    if origin_matches(conn) is False:
        raise _fail(status.HTTP_403_FORBIDDEN, "cross-origin request refused")


def csrf_protect(conn: HTTPConnection, session: MaybeSession) -> None:
    """The CSRF rule of every API route except login and setup (see the module doc)."""
    if conn.scope["type"] == "websocket":
        # Browsers send no custom headers on a WebSocket handshake but always send Origin, and
        # cookies go along cross-site; so the Origin is the check (cross-site WS hijacking).
        if origin_matches(conn) is not True:
            raise _fail(status.HTTP_403_FORBIDDEN, "cross-origin WebSocket refused")
        return
    if conn.scope["method"] in SAFE_METHODS:
        return
    same_origin_only(conn)
    # Without a session the route answers 401 itself; there is nothing to forge.
    if session is not None and not check_csrf(session, conn.headers.get(CSRF_HEADER)):
        raise _fail(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


# Sessions by login state -----------------------------------------------------------------------


def permitted(session: SessionInfo | None, action: Action) -> SessionInfo:
    """The session if its login state permits ``action``; 401 otherwise (none, or unfinished)."""
    if session is None:
        raise _fail(status.HTTP_401_UNAUTHORIZED, "not logged in")
    if not permits(session.state, action):
        raise _fail(status.HTTP_401_UNAUTHORIZED, "login not complete")
    return session


def any_session(session: MaybeSession) -> SessionInfo:
    """Any session, pending ones included (logout, /api/me)."""
    return permitted(session, Action.LOGOUT)


def mfa_session(session: MaybeSession) -> SessionInfo:
    """A session waiting for its TOTP code."""
    return permitted(session, Action.SUBMIT_TOTP)


def enroll_session(session: MaybeSession) -> SessionInfo:
    """A session that may enroll TOTP (enroll-pending, or active)."""
    return permitted(session, Action.ENROLL_TOTP)


def active_session(session: MaybeSession) -> SessionInfo:
    """A session with a complete login."""
    return permitted(session, Action.USE_APP)


AnySession = Annotated[SessionInfo, Depends(any_session)]
MfaSession = Annotated[SessionInfo, Depends(mfa_session)]
EnrollSession = Annotated[SessionInfo, Depends(enroll_session)]
ActiveSession = Annotated[SessionInfo, Depends(active_session)]


# Capabilities ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Household:
    """An owner's or member's view: their session, household, and the cameras it owns."""

    session: SessionInfo
    household_id: int
    cameras: frozenset[str]


def household_of(services: WebServices, session: SessionInfo) -> Household | None:
    """The household view of an active owner or member session; None for any other."""
    if not session.active or session.role not in (Role.OWNER, Role.MEMBER):
        return None
    if session.household_id is None:
        return None
    cameras = frozenset(services.accounts.household_cameras(session.household_id))
    return Household(session, session.household_id, cameras)


def household_for_token(services: WebServices, token: str) -> Household | None:
    """The same decision as ``household_member`` for a long-lived stream re-checking access."""
    session = services.accounts.session(token, services.clock())
    return None if session is None else household_of(services, session)


def household_member(session: ActiveSession, services: Services) -> Household:
    """An owner or member: may see their household's cameras, events, media and live view."""
    household = household_of(services, session)
    if household is None:
        raise _fail(status.HTTP_403_FORBIDDEN, "only the household sees its cameras")
    return household


Member = Annotated[Household, Depends(household_member)]


def household_owner(member: Member) -> Household:
    """The household's owner (settings, members)."""
    if member.session.role is not Role.OWNER:
        raise _fail(status.HTTP_403_FORBIDDEN, "only the owner may do this")
    return member


Owner = Annotated[Household, Depends(household_owner)]


def account_user(session: ActiveSession) -> SessionInfo:
    """Anyone but an annotator, whose account lives in the review app."""
    if session.role is Role.ANNOTATOR:
        raise _fail(status.HTTP_403_FORBIDDEN, "not available to annotators")
    return session


AccountUser = Annotated[SessionInfo, Depends(account_user)]


def annotator(session: ActiveSession) -> SessionInfo:
    """An annotator (TOTP is enforced for them by the login rules): the workbench."""
    if session.role is not Role.ANNOTATOR:
        raise _fail(status.HTTP_403_FORBIDDEN, "only annotators use the workbench")
    return session


Annotator = Annotated[SessionInfo, Depends(annotator)]


def admin(session: ActiveSession) -> SessionInfo:
    """An admin (the view log's flags across households; never media)."""
    if session.role is not Role.ADMIN:
        raise _fail(status.HTTP_403_FORBIDDEN, "only admins may do this")
    return session


Admin = Annotated[SessionInfo, Depends(admin)]


def hub_viewer(session: ActiveSession) -> SessionInfo:
    """An owner or an admin: the review hub the installation is linked to (admins link it)."""
    owner = session.role is Role.OWNER and session.household_id is not None
    if session.role is Role.ADMIN or owner:
        return session
    raise _fail(status.HTTP_403_FORBIDDEN, "only owners and admins see the review hub's link")


HubViewer = Annotated[SessionInfo, Depends(hub_viewer)]


@dataclass(frozen=True, slots=True)
class SystemView:
    """Who reads the System page: an owner (their household's cameras) or an admin (all)."""

    session: SessionInfo
    cameras: frozenset[str] | None  # None: an admin, who sees every camera of the box


def system_viewer(session: ActiveSession, services: Services) -> SystemView:
    """An owner (their cameras) or an admin (every camera; figures and log lines, no media)."""
    if session.role is Role.ADMIN:
        return SystemView(session, None)
    household = household_of(services, session)
    if household is None or session.role is not Role.OWNER:
        raise _fail(status.HTTP_403_FORBIDDEN, "only owners and admins see the system page")
    return SystemView(session, household.cameras)


SystemViewer = Annotated[SystemView, Depends(system_viewer)]


@dataclass(frozen=True, slots=True)
class UserManager:
    """An owner managing their household's members, or an admin managing accounts."""

    session: SessionInfo
    household_id: int | None  # None: an admin, who sees every user
    may_create: frozenset[Role]


def user_manager(session: ActiveSession) -> UserManager:
    """Owners manage their members; admins manage admins and annotators (and see all users)."""
    if session.role is Role.OWNER and session.household_id is not None:
        return UserManager(session, session.household_id, frozenset({Role.MEMBER}))
    if session.role is Role.ADMIN:
        return UserManager(session, None, frozenset({Role.ADMIN, Role.ANNOTATOR}))
    raise _fail(status.HTTP_403_FORBIDDEN, "only owners and admins manage users")


Manager = Annotated[UserManager, Depends(user_manager)]


# Lookups through the caller's household --------------------------------------------------------

EventIdPath = Annotated[str, Path(pattern=EVENT_ID_PATTERN, description="event id (32 hex)")]
CameraPath = Annotated[str, Path(pattern=CAMERA_NAME_PATTERN, description="camera name")]
ExportIdPath = Annotated[str, Path(pattern=EVENT_ID_PATTERN, description="export id (32 hex)")]
UserIdPath = Annotated[int, Path(ge=1, le=2**62, description="user id")]


def visible_event(event_id: EventIdPath, member: Member, services: Services) -> Event:
    """The event if its camera belongs to the caller's household; 404 otherwise."""
    event = services.store.get_event(event_id)
    if event is None or event.camera not in member.cameras:
        raise _fail(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return event


VisibleEvent = Annotated[Event, Depends(visible_event)]


def visible_export(export_id: ExportIdPath, member: Member, services: Services) -> ExportRecord:
    """The export if it is the caller's household's, of a camera it owns; 404 otherwise."""
    record = services.exports.rows.get(export_id)
    if (
        record is None
        or record.household_id != member.household_id
        or record.camera not in member.cameras
    ):
        raise _fail(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return record


VisibleExport = Annotated[ExportRecord, Depends(visible_export)]


def visible_camera(camera: CameraPath, member: Member) -> str:
    """The camera's name if the caller's household owns it; 404 otherwise."""
    if camera not in member.cameras:
        raise _fail(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return camera


VisibleCamera = Annotated[str, Depends(visible_camera)]


def managed_user(user_id: UserIdPath, manager: Manager, services: Services) -> UserInfo:
    """A user the caller may remove: an admin any but themselves, an owner their members."""
    user = services.accounts.user(user_id)
    if user is None:
        raise _fail(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if manager.household_id is not None:
        if user.household_id != manager.household_id:
            raise _fail(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        if user.role is not Role.MEMBER:
            raise _fail(status.HTTP_403_FORBIDDEN, "owners remove members only")
    if user.id == manager.session.user_id:
        raise _fail(status.HTTP_409_CONFLICT, "you cannot remove yourself")
    return user


ManagedUser = Annotated[UserInfo, Depends(managed_user)]
