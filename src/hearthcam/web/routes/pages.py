"""The HTML pages: shells rendered from ``web/templates/{page}.html`` that call the API.

Context: ``csrf_token`` (the session's, or ""), ``user`` (the /api/me fields without the token,
or None) and ``page``; the event page also gets ``event_id``, the history page ``camera``. Pages
only route the visitor by login state; what they may see is decided by the API they call. A
visitor without a session goes to /login (/setup while no user exists); an unfinished login goes
to its next step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateNotFound
from starlette.requests import HTTPConnection
from starlette.responses import Response

from hearthcam.accounts import LoginState, Role, SessionInfo
from hearthcam.web.deps import CameraPath, EventIdPath, MaybeSession, Services
from hearthcam.web.routes.me import describe
from hearthcam.web.services import WebServices

SERVICE_WORKER = Path(__file__).parents[1] / "static" / "sw.js"
router = APIRouter(include_in_schema=False)

# Served until the front end's template for a page exists, so every page route works from day one.
FALLBACK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{{ csrf_token }}">
<title>hearthcam</title></head>
<body data-page="{{ page }}"><main id="app"></main>
<script src="/static/app.js" defer></script></body></html>
"""


def get_templates(conn: HTTPConnection) -> Jinja2Templates:
    """The templates the lifespan put in the app state."""
    templates = getattr(conn.state, "templates", None)
    if not isinstance(templates, Jinja2Templates):
        raise RuntimeError("the app was started without its lifespan (no templates in state)")
    return templates


def render(
    request: Request,
    templates: Jinja2Templates,
    page: str,
    session: SessionInfo | None,
    services: WebServices,
    **extra: Any,
) -> Response:
    """Renders a page's template (or the fallback shell)."""
    user = (
        None
        if session is None
        else describe(services, session).model_dump(mode="json", exclude={"csrf_token"})
    )
    context = {
        "csrf_token": "" if session is None else session.csrf_token,
        "user": user,
        "page": page,
        **extra,
    }
    headers = {"Cache-Control": "no-store"}
    try:
        return templates.TemplateResponse(request, f"{page}.html", context, headers=headers)
    except TemplateNotFound:
        html = templates.env.from_string(FALLBACK).render(context)
        return HTMLResponse(html, headers=headers)


def _go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def redirect_for(
    session: SessionInfo | None, services: WebServices, *, enroll_ok: bool = False
) -> RedirectResponse | None:
    """Where a page that needs a complete login sends this visitor (None: render it)."""
    if session is None:
        return _go("/setup" if services.accounts.setup_allowed() else "/login")
    if session.state is LoginState.MFA_PENDING:
        return _go("/login/mfa")
    if session.state is LoginState.ENROLL_PENDING and not enroll_ok:
        return _go("/account")
    return None


TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """The service worker, from the root so its scope is the whole app (Web Push alerts)."""
    return FileResponse(
        SERVICE_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/setup", response_class=HTMLResponse)
def setup_page(
    request: Request,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    if not services.accounts.setup_allowed():
        return _go("/" if session is not None and session.active else "/login")
    return render(request, templates, "setup", session, services)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    if session is not None and session.active:
        return _go("/")
    if session is None and services.accounts.setup_allowed():
        return _go("/setup")
    return render(request, templates, "login", session, services)


@router.get("/login/mfa", response_class=HTMLResponse)
def mfa_page(
    request: Request,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    if session is None or session.state is not LoginState.MFA_PENDING:
        return redirect_for(session, services) or _go("/")
    return render(request, templates, "mfa", session, services)


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    redirect = redirect_for(session, services, enroll_ok=True)
    return redirect or render(request, templates, "account", session, services)


def _app_page(page: str) -> Any:
    """A page of the app proper: needs a complete login."""

    def show(
        request: Request,
        session: MaybeSession,
        services: Services,
        templates: TemplatesDep,
    ) -> Response:
        redirect = redirect_for(session, services)
        annotator = session is not None and session.role is Role.ANNOTATOR
        if redirect is None and page == "timeline" and annotator:
            redirect = _go("/review")  # an annotator's home is the workbench
        if redirect is None and page == "timeline" and session and session.role is Role.ADMIN:
            redirect = _go("/admin")  # an admin sees no recordings: their home is the admin page
        return redirect or render(request, templates, page, session, services)

    show.__name__ = f"{page}_page"
    return show


router.add_api_route("/", _app_page("timeline"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/live", _app_page("live"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(
    "/settings", _app_page("settings"), methods=["GET"], response_class=HTMLResponse
)
router.add_api_route("/shared", _app_page("shared"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/review", _app_page("review"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/views", _app_page("views"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/system", _app_page("system"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/admin", _app_page("admin"), methods=["GET"], response_class=HTMLResponse)


@router.get("/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, services: Services, templates: TemplatesDep) -> Response:
    # The link's token is in the fragment: the page asks the API whether it is live. Rendered
    # without any session the browser has (the last step ends it).
    return render(request, templates, "enrol", None, services)


router.add_api_route("/exports", _app_page("exports"), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/people", _app_page("people"), methods=["GET"], response_class=HTMLResponse)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    request: Request,
    event_id: EventIdPath,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    # Rendered for any id: whether the event exists is the API's answer, never the page's.
    redirect = redirect_for(session, services)
    return redirect or render(request, templates, "event", session, services, event_id=event_id)


@router.get("/history/{camera}", response_class=HTMLResponse)
def history_page(
    request: Request,
    camera: CameraPath,
    session: MaybeSession,
    services: Services,
    templates: TemplatesDep,
) -> Response:
    # Rendered for any camera name: whether the caller may see it is the API's answer.
    redirect = redirect_for(session, services)
    return redirect or render(request, templates, "history", session, services, camera=camera)
