"""The hub's pages for people: annotators' workbench and the operator's admin page.

The hub serves the home app's own front end (``web/templates``, ``web/static``): the same login,
two-factor and workbench pages, over the same API paths (``/api/login``, ``/api/login/mfa``,
``/api/logout``, ``/api/me``, ``/api/review/...``), backed here by the hub's accounts (an
``Accounts`` over the hub's database: argon2 passwords, throttling, TOTP, sessions) and its
desk (``hub.desk``). Accounts at a hub are annotators and admins only, made by the operator with
``hearthcam hub annotator add``; both must pass TOTP at every login.

Rules, as at home: a state-changing request must come from the page's own origin and echo the
session's CSRF token; a lease that is not the caller's reads as one that does not exist (404);
an ended lease answers 410; the clip is the lease's watermarked copy, inline, never cached, and
**its view-log entry is appended before the first byte is sent** (503 and nothing sent if the
append fails). ``/admin`` (admins) shows counts only: homes, clips, leases, annotations, each
annotator's day, and the view log's flags; never a clip.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from hearthcam.accounts import (
    Accounts,
    Action,
    LinkInvalid,
    LoginState,
    Role,
    SessionInfo,
    check_csrf,
)
from hearthcam.accounts.login import Client
from hearthcam.accounts.passwords import password_problems
from hearthcam.accounts.strength import MIN_SCORE, estimate
from hearthcam.annotate.desk import watermark_text
from hearthcam.annotate.watermark import MarkedClip
from hearthcam.annotate.workbench import Keyframe, LabeledBox
from hearthcam.errors import HearthcamError
from hearthcam.hub.desk import (
    CopyFailed,
    HubDesk,
    HubLease,
    LeaseEnded,
    LeaseHeld,
    QueueEmpty,
    QuotaReached,
    tracks_of,
)
from hearthcam.viewlog.flags import AnomalyRules, OverQuota, anomalies
from hearthcam.web.client_address import TrustedProxies
from hearthcam.web.deps import CSRF_HEADER, MAX_TOKEN, SAFE_METHODS, permitted
from hearthcam.web.deps import origin_matches as _origin_matches
from hearthcam.web.ranges import ranged_response
from hearthcam.web.review_schemas import (
    LEASE_ID_PATTERN,
    AnnotationIn,
    AnnotationOut,
    LeaseOut,
    PreLabelOut,
    QueueOut,
    ReportOut,
    TrackOut,
)
from hearthcam.web.routes.common import raise_failure
from hearthcam.web.schemas import CodeIn, LoginIn, MeOut, StateOut
from hearthcam.web.user_schemas import (
    EnrolIn,
    EnrolledOut,
    EnrolmentOut,
    StrengthIn,
    StrengthOut,
    TokenIn,
    TotpSecretOut,
)

__all__ = ["HubWorkbench", "add_workbench"]

log = logging.getLogger(__name__)

WEB: Final = Path(__file__).parents[1] / "web"
MP4: Final = "video/mp4"
PRIVATE: Final = {"Cache-Control": "no-store"}
ENDED: Final = "this lease has ended"
NOT_FOUND: Final = "not found"
UNLOGGED: Final = "the view could not be logged; nothing was sent"
HUB_ROLES: Final = frozenset({Role.ANNOTATOR, Role.ADMIN})
FLAG_WINDOW_S: Final = 7 * 24 * 3600.0
# Not the home app's cookie name: cookies are not kept apart by port, and a home and its hub on
# one host must not sign each other's users out.
SESSION_COOKIE: Final = "hc_hub_session"
MAX_USER_AGENT: Final = 256


@dataclass
class HubWorkbench:
    """What the hub's pages need: its accounts, its desk and its clock.

    ``secure_cookies``: the session cookie is marked Secure (a hub served with ``--public``
    sits behind a TLS proxy)."""

    accounts: Accounts
    desk: HubDesk
    clock: Callable[[], float] = time.time
    secure_cookies: bool = False
    # The TLS proxies in front whose X-Forwarded-For / -Proto are believed (none by default):
    # login throttling counts the client they name, not the proxy.
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(WEB / "templates"))
    )


class AnnotatorOut(BaseModel):
    """One annotator's day, for the operator."""

    username: str
    role: Role
    mfa_enabled: bool
    leases_today: int
    annotations: int


class HubFlagOut(BaseModel):
    """An unusual pattern in the hub's view log (by a viewer's name; homes by number)."""

    kind: str
    text: str
    viewer: str
    views: int


class HubAdminOut(BaseModel):
    """The operator's figures: counts only, never a clip."""

    homes: int = Field(description="homes linked now")
    clips_held: int
    clips_unchecked: int = Field(description="held, not checked by the hub yet")
    clips_passed: int
    clips_refused: int = Field(description="refused by the hub's checks or reported (deleted)")
    waiting: int = Field(description="passed clips that still want an annotation")
    active_leases: int
    annotations: int
    daily_quota: int
    lease_minutes: float
    annotators: list[AnnotatorOut]
    flags: list[HubFlagOut]
    log_size: int


def _session_token(conn: HTTPConnection) -> str | None:
    token = conn.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= MAX_TOKEN else None


def _client(request: Request, bench: HubWorkbench) -> tuple[str, str]:
    """The address login throttling counts against, and the user agent."""
    return bench.proxies.client(request), request.headers.get("user-agent", "")[:MAX_USER_AGENT]


def _bench(conn: HTTPConnection) -> HubWorkbench:
    bench = getattr(conn.app.state, "hub_workbench", None)
    if not isinstance(bench, HubWorkbench):
        raise RuntimeError("the hub's app was made without its workbench")
    return bench


Bench = Annotated[HubWorkbench, Depends(_bench)]


def _maybe_session(conn: HTTPConnection, bench: Bench) -> SessionInfo | None:
    token = _session_token(conn)
    session = None if token is None else bench.accounts.session(token, bench.clock())
    if session is not None and session.role not in HUB_ROLES:
        return None  # no owner or member exists at a hub; a stray one gets nothing
    return session


MaybeSession = Annotated[SessionInfo | None, Depends(_maybe_session)]


def _same_origin(conn: HTTPConnection) -> None:
    if conn.scope["method"] not in SAFE_METHODS and _origin_matches(conn) is False:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin request refused")


def _csrf_protect(conn: HTTPConnection, session: MaybeSession) -> None:
    _same_origin(conn)
    if conn.scope["method"] in SAFE_METHODS:
        return
    if session is not None and not check_csrf(session, conn.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def _any_session(session: MaybeSession) -> SessionInfo:
    return permitted(session, Action.LOGOUT)


def _mfa_session(session: MaybeSession) -> SessionInfo:
    return permitted(session, Action.SUBMIT_TOTP)


def _annotator(session: MaybeSession) -> SessionInfo:
    active = permitted(session, Action.USE_APP)
    if active.role is not Role.ANNOTATOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the workbench is for annotators")
    return active


def _admin(session: MaybeSession) -> SessionInfo:
    active = permitted(session, Action.USE_APP)
    if active.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the hub's admins see this")
    return active


AnySession = Annotated[SessionInfo, Depends(_any_session)]
MfaSession = Annotated[SessionInfo, Depends(_mfa_session)]
Annotator = Annotated[SessionInfo, Depends(_annotator)]
Admin = Annotated[SessionInfo, Depends(_admin)]
LeaseId = Annotated[str, PathParam(pattern=LEASE_ID_PATTERN)]


def _own_lease(lease_id: LeaseId, who: Annotator, bench: Bench) -> HubLease:
    lease = bench.desk.lease_of(who.user_id, lease_id)
    if lease is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return lease


OwnLease = Annotated[HubLease, Depends(_own_lease)]


def _live_lease(lease: OwnLease, bench: Bench) -> HubLease:
    if not bench.desk.live(lease, bench.clock()):
        raise HTTPException(status.HTTP_410_GONE, ENDED)
    return lease


LiveLease = Annotated[HubLease, Depends(_live_lease)]

api = APIRouter(prefix="/api", dependencies=[Depends(_csrf_protect)])
public = APIRouter(prefix="/api", dependencies=[Depends(_same_origin)])
pages = APIRouter(include_in_schema=False)


# Login ----------------------------------------------------------------------------------------


def _open_session(
    bench: HubWorkbench, request: Request, response: Response, token: str | None
) -> StateOut:
    session = None if token is None else bench.accounts.session(token, bench.clock())
    if token is None or session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    secure = bench.secure_cookies or bench.proxies.https(request)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max(0, int(session.expires - bench.clock())), path="/",
        secure=secure, httponly=True, samesite="strict",
    )  # fmt: skip
    return StateOut(state=session.state, csrf_token=session.csrf_token)


@public.post("/login", response_model=StateOut)
def login(body: LoginIn, request: Request, response: Response, bench: Bench) -> StateOut:
    """A password; the answer says that a TOTP code comes next."""
    ip, agent = _client(request, bench)
    result = bench.accounts.authenticate(
        body.username, body.password, ip=ip, user_agent=agent, now=bench.clock(),
        previous_token=_session_token(request),
    )  # fmt: skip
    raise_failure(result, (status.HTTP_401_UNAUTHORIZED, "wrong username or password"))
    if result.state is LoginState.ENROLL_PENDING and result.token is not None:
        bench.accounts.logout(result.token)  # two-factor is set up by the enrolment link only
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "two-factor sign-in is not set up for this account: ask the hub's operator for a "
            "new enrolment link",
        )
    return _open_session(bench, request, response, result.token)


@api.post("/login/mfa", response_model=StateOut)
def login_mfa(
    body: CodeIn, request: Request, response: Response, bench: Bench, _: MfaSession
) -> StateOut:
    """Completes a login with a TOTP or recovery code."""
    token = _session_token(request)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    result = bench.accounts.verify_mfa(token, body.code, bench.clock())
    raise_failure(result, (status.HTTP_401_UNAUTHORIZED, "invalid code"))
    return _open_session(bench, request, response, result.token)


@api.post("/logout", status_code=204, response_class=Response)
def logout(request: Request, bench: Bench, _: AnySession) -> Response:
    """Ends the session."""
    token = _session_token(request)
    if token is not None:
        bench.accounts.logout(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
    return response


def _me(bench: HubWorkbench, session: SessionInfo) -> MeOut:
    user = bench.accounts.user(session.user_id)
    return MeOut(
        username=session.username, role=session.role, household=None, state=session.state,
        mfa_enabled=bool(user and user.totp_enabled), csrf_token=session.csrf_token,
    )  # fmt: skip


@api.get("/me", response_model=MeOut)
def me(session: AnySession, bench: Bench) -> MeOut:
    """The session's user."""
    return _me(bench, session)


# Enrolment by one-time link (``hearthcam hub annotator add`` makes it) -------------------------


@public.post("/enrol/info", response_model=EnrolmentOut)
def enrolment_info(body: TokenIn, bench: Bench) -> EnrolmentOut:
    """Who a live link is for; ``valid`` false for a used, expired or unknown one."""
    try:
        user = bench.accounts.enrolment.pending(body.token, bench.clock())
    except LinkInvalid:
        return EnrolmentOut(valid=False)
    return EnrolmentOut(valid=True, username=user.username, role=user.role)


@public.post("/enrol/totp", response_model=TotpSecretOut)
def enrolment_totp(body: TokenIn, bench: Bench) -> TotpSecretOut:
    """A new TOTP secret for the link's user; on once the last step's code matches."""
    found = bench.accounts.enrolment.start_totp(body.token, bench.clock())
    return TotpSecretOut(secret=found.secret, uri=found.uri)


@public.post("/enrol", response_model=EnrolledOut)
def enrol(body: EnrolIn, request: Request, response: Response, bench: Bench) -> EnrolledOut:
    """Sets the password, turns TOTP on and uses the link up; signs the new user in."""
    ip, agent = _client(request, bench)
    done = bench.accounts.enrolment.complete(
        body.token, body.password, body.code, Client(ip, agent), bench.clock()
    )
    raise_failure(done.result, (status.HTTP_401_UNAUTHORIZED, "invalid code"))
    previous = _session_token(request)
    if previous:
        bench.accounts.logout(previous)
    state = _open_session(bench, request, response, done.result.token)
    return EnrolledOut(
        state=state.state, csrf_token=state.csrf_token, recovery_codes=list(done.recovery_codes)
    )


@public.post("/password/strength", response_model=StrengthOut)
def password_strength(body: StrengthIn) -> StrengthOut:
    """The strength meter's answer: the same rules enrolment applies."""
    found = estimate(body.password, (body.username,) if body.username else ())
    problems = password_problems(body.password, body.username)
    return StrengthOut(
        score=found.score, acceptable=not problems, min_score=MIN_SCORE,
        reason=problems[0] if problems else "",
    )  # fmt: skip


# The workbench --------------------------------------------------------------------------------


def _marked(bench: HubWorkbench, lease: HubLease, who: SessionInfo) -> MarkedClip:
    """The lease's watermarked copy: 410 for an ended lease, 503 if it cannot be made."""
    try:
        return bench.desk.copy(lease, who.username)
    except LeaseEnded:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from None
    except CopyFailed as error:
        log.warning("a lease's copy could not be made: %s", error)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "try again later") from None


def _lease_out(bench: HubWorkbench, lease: HubLease, who: SessionInfo, now: float) -> LeaseOut:
    marked = _marked(bench, lease, who)
    return LeaseOut(
        id=lease.id, state=lease.state.value, clip_url=f"/api/review/leases/{lease.id}/clip",
        expires_in=max(0.0, lease.expires_at - now),
        watermark=watermark_text(who.username, lease.id), time_of_day=None,
        duration=round(marked.duration, 3), frames=marked.frames, fps=marked.fps,
        width=marked.width, height=marked.height, keyframes=list(marked.keyframes),
        tracks=[TrackOut(**t) for t in tracks_of(marked)],
        boxes=[
            PreLabelOut(frame=b.frame, time=b.time, xyxy=b.xyxy, label=b.label, score=b.score)
            for b in marked.prelabels
        ],
        suggested=None,
    )  # fmt: skip


@api.get("/review/queue", response_model=QueueOut)
def queue(who: Annotator, bench: Bench) -> QueueOut:
    """How many clips wait for this annotator and how much of today's quota is left."""
    found = bench.desk.queue(who.user_id, bench.clock())
    return QueueOut(
        available=found.available, quota=found.quota, taken_today=found.taken_today,
        quota_left=found.quota_left, lease_id=None if found.active is None else found.active.id,
    )  # fmt: skip


@api.post("/review/leases", response_model=LeaseOut, status_code=201)
def take(who: Annotator, bench: Bench) -> LeaseOut:
    """Leases the next clip (its watermarked copy is made now); 409 when the quota is reached,
    the queue is empty or a lease is held already."""
    now = bench.clock()
    try:
        lease = bench.desk.take(who.user_id, who.username, now)
    except (QuotaReached, QueueEmpty, LeaseHeld, LeaseEnded) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except CopyFailed as error:
        log.warning("a lease could not be prepared: %s", error)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "try again later") from None
    return _lease_out(bench, lease, who, now)


@api.get("/review/leases/{lease_id}", response_model=LeaseOut)
def get_lease(lease: LiveLease, who: Annotator, bench: Bench) -> LeaseOut:
    """One of the annotator's live leases (410 once it ended)."""
    return _lease_out(bench, lease, who, bench.clock())


@api.get("/review/leases/{lease_id}/clip", response_class=StreamingResponse)
def lease_clip(
    lease: LiveLease, who: Annotator, bench: Bench, request: Request
) -> StreamingResponse:
    """The lease's watermarked clip, inline (HTTP ranges); logged before any byte is sent."""
    marked = _marked(bench, lease, who)

    def log_view(first: int, last: int) -> None:
        try:  # before any byte: a view that is not logged is not sent
            bench.desk.view(lease, who.user_id, (first, last), bench.clock())
        except HearthcamError as error:
            log.error("view log append failed, clip not sent: %s", error)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, UNLOGGED) from None

    headers = {**PRIVATE, "Content-Disposition": "inline"}
    reader = io.BytesIO(marked.data)
    return ranged_response(reader, request.headers.get("range"), MP4, headers, log_view)


@api.post("/review/leases/{lease_id}/annotation", response_model=AnnotationOut, status_code=201)
def annotate(body: AnnotationIn, lease: LiveLease, bench: Bench) -> AnnotationOut:
    """Records the verdict (and corrected keyframe boxes) and ends the lease."""
    keyframes = [
        Keyframe(k.frame, tuple(LabeledBox(b.xyxy, b.label, b.track) for b in k.boxes))
        for k in body.keyframes
    ]
    try:
        annotation_id = bench.desk.submit(
            lease, body.verdict, body.reason, keyframes, bench.clock()
        )
    except LeaseEnded:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from None
    return AnnotationOut(id=annotation_id, lease_id=lease.id)


@api.post("/review/leases/{lease_id}/release", status_code=204, response_class=Response)
def release(lease: LiveLease, bench: Bench) -> Response:
    """Gives the clip back unannotated (it returns to the queue for others)."""
    try:
        bench.desk.release(lease, bench.clock())
    except LeaseEnded:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from None
    return Response(status_code=204)


@api.post("/review/leases/{lease_id}/report", response_model=ReportOut)
def report(lease: LiveLease, bench: Bench) -> ReportOut:
    """ "Should not be here": the clip is deleted at once as refused; its home reads why."""
    return ReportOut(disposed=bench.desk.report(lease, bench.clock()))


# The operator ---------------------------------------------------------------------------------


@api.get("/hub/admin", response_model=HubAdminOut)
def admin_figures(_: Admin, bench: Bench) -> HubAdminOut:
    """Counts for the operator: clips, leases, annotations, each person's day, the flags."""
    now, desk = bench.clock(), bench.desk
    figures = desk.figures(now)
    users = [u for u in bench.accounts.list_users() if u.role in HUB_ROLES]
    names = {u.id: u.username for u in users}
    rules = AnomalyRules(daily_quota=desk.daily_quota)
    entries = (e.entry for e in desk.audit.entries(since=now - FLAG_WINDOW_S))
    flags = [
        HubFlagOut(
            kind="over_quota" if isinstance(flag, OverQuota) else "repeated_household",
            text=str(flag), viewer=names.get(flag.viewer_id, f"account {flag.viewer_id} (gone)"),
            views=flag.views,
        )
        for flag in anomalies(entries, rules)
    ]  # fmt: skip
    return HubAdminOut(
        homes=figures.homes, clips_held=figures.clips_held,
        clips_unchecked=figures.clips_unchecked, clips_passed=figures.clips_passed,
        clips_refused=figures.clips_refused, waiting=figures.waiting,
        active_leases=figures.active_leases, annotations=figures.annotations,
        daily_quota=desk.daily_quota, lease_minutes=desk.lease_seconds / 60.0,
        annotators=[
            AnnotatorOut(
                username=u.username, role=u.role, mfa_enabled=u.totp_enabled,
                leases_today=figures.leases_today.get(u.id, 0),
                annotations=figures.annotations_by_annotator.get(u.id, 0),
            )
            for u in users
        ],
        flags=flags, log_size=desk.audit.size(),
    )  # fmt: skip


# Pages ----------------------------------------------------------------------------------------


def _render(
    bench: HubWorkbench, request: Request, page: str, session: SessionInfo | None
) -> Response:
    context = {
        "csrf_token": "" if session is None else session.csrf_token,
        "user": None
        if session is None
        else _me(bench, session).model_dump(mode="json", exclude={"csrf_token"}),
        "page": page,
        "hub": True,
    }
    return bench.templates.TemplateResponse(
        request, f"{page}.html", context, headers={"Cache-Control": "no-store"}
    )


def _go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _landing(session: SessionInfo) -> str:
    if session.state is LoginState.MFA_PENDING:
        return "/login/mfa"
    if session.state is not LoginState.ACTIVE:
        return "/login"  # enrolment is done by its link at a hub
    return "/admin" if session.role is Role.ADMIN else "/review"


@pages.get("/")
def home_page(session: MaybeSession) -> Response:
    """Where the visitor belongs: the login, the workbench or the admin page."""
    return _go("/login" if session is None else _landing(session))


@pages.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: MaybeSession, bench: Bench) -> Response:
    if session is not None and session.state is LoginState.ACTIVE:
        return _go(_landing(session))
    return _render(bench, request, "login", None)


@pages.get("/login/mfa", response_class=HTMLResponse)
def mfa_page(request: Request, session: MaybeSession, bench: Bench) -> Response:
    if session is None or session.state is not LoginState.MFA_PENDING:
        return _go("/login" if session is None else _landing(session))
    return _render(bench, request, "mfa", session)


@pages.get("/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, bench: Bench) -> Response:
    return _render(bench, request, "enrol", None)


def _role_page(
    request: Request, session: SessionInfo | None, bench: HubWorkbench, page: str, role: Role
) -> Response:
    if session is None or session.state is not LoginState.ACTIVE:
        return _go("/login" if session is None else _landing(session))
    if session.role is not role:
        return _go(_landing(session))
    return _render(bench, request, page, session)


@pages.get("/review", response_class=HTMLResponse)
def review_page(request: Request, session: MaybeSession, bench: Bench) -> Response:
    return _role_page(request, session, bench, "review", Role.ANNOTATOR)


@pages.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: MaybeSession, bench: Bench) -> Response:
    return _role_page(request, session, bench, "hub_admin", Role.ADMIN)


def add_workbench(app: FastAPI, bench: HubWorkbench) -> None:
    """Adds the pages, the static files and the API of people at the hub to ``app``."""
    app.state.hub_workbench = bench
    app.include_router(public)
    app.include_router(api)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
