"""``create_app(services)``: the FastAPI app of the owner's web UI and API (docs/web-api.md).

The services reach routes through the lifespan state (``deps.get_services``), never through
attributes on the app. Errors answer ``{"detail": "<words>"}`` with a 4xx; validation errors are
flattened into one line so the front end shows them as they come. Every route and its
authorization rule is listed in tests/web/test_authz_matrix.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from hearthcam.accounts import (
    AccountError,
    InvalidUsername,
    NotAllowed,
    PasswordRejected,
    SetupClosed,
    UsernameTaken,
)
from hearthcam.errors import MediaLocked, StoreError
from hearthcam.web.middleware import AllowedHosts, BodyLimit, HostCheck, SecurityHeaders
from hearthcam.web.openapi_spec import allowed_methods, truthful
from hearthcam.web.routes import (
    auth,
    camera_setup,
    cameras,
    encryption,
    enrol,
    events,
    exports,
    familiar,
    history,
    hub_link,
    live,
    me,
    pages,
    push,
    review,
    settings,
    shares,
    stream,
    system,
    users,
    views,
)
from hearthcam.web.services import WebServices

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Which refused account operation answers which status (the most specific class first).
_ACCOUNT_STATUS: tuple[tuple[type[AccountError], int], ...] = (
    (InvalidUsername, 422),
    (PasswordRejected, 422),
    (UsernameTaken, 409),
    (SetupClosed, 409),
    (NotAllowed, 409),
    (AccountError, 400),
)


def _version() -> str:
    try:
        return version("hearthcam")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


class AppState(TypedDict):
    """What the lifespan hands every request (``request.state``)."""

    services: WebServices
    templates: Jinja2Templates


def _lifespan(services: WebServices) -> Callable[[FastAPI], AbstractAsyncContextManager[AppState]]:
    """The lifespan that hands ``services`` to every request."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[AppState]:
        yield AppState(services=services, templates=Jinja2Templates(directory=TEMPLATES_DIR))
        # Open SSE streams would otherwise hold the server's shutdown until they time out.
        services.bus.close_subscribers()

    return lifespan


def _validation_detail(error: RequestValidationError) -> str:
    """One line naming each invalid field and what was wrong."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette's own (a 405, the body limit's 413) as well as FastAPI's subclass.
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        spec = request.app.openapi()
        headers["Allow"] = allowed_methods(spec, request.url.path, headers.get("Allow", ""))
    return JSONResponse(
        {"detail": str(error.detail)}, status_code=error.status_code, headers=headers
    )


async def _on_validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": _validation_detail(error)}, status_code=422)


async def _on_account_error(_request: Request, error: Exception) -> JSONResponse:
    code = next(code for kind, code in _ACCOUNT_STATUS if isinstance(error, kind))
    return JSONResponse({"detail": str(error)}, status_code=code)


async def _on_store_error(_request: Request, error: Exception) -> JSONResponse:
    # The details (paths, SQL) stay in the log; the client learns only that it may retry.
    log.error("store failure: %s", error)
    return JSONResponse({"detail": "storage unavailable; try again"}, status_code=503)


LOCKED_DETAIL = (
    "these recordings are locked: they open when the household's owner signs in (password mode)"
)


async def _on_media_locked(_request: Request, _error: Exception) -> JSONResponse:
    # Not a failure: a password-mode household nobody has unlocked since the server started.
    return JSONResponse({"detail": LOCKED_DETAIL}, status_code=423)


class _App(FastAPI):
    """FastAPI whose spec says what the app really answers (web.openapi_spec)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = truthful(super().openapi())
        return self.openapi_schema


def create_app(services: WebServices) -> FastAPI:
    """The web app over ``services`` (run it with ``serve.start_server`` or any ASGI server)."""
    app = _App(
        title="hearthcam",
        version=_version(),
        openapi_url="/api/openapi.json",
        # The interactive docs load scripts from a CDN; the spec alone is served.
        docs_url=None,
        redoc_url=None,
        # No path has a trailing slash; redirecting "/events/%2e%2e%2f" to "/events/.." would
        # only hand a traversal string back to the browser to resolve.
        redirect_slashes=False,
        lifespan=_lifespan(services),
    )
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(AccountError, _on_account_error)
    app.add_exception_handler(StoreError, _on_store_error)
    app.add_exception_handler(MediaLocked, _on_media_locked)  # the more specific StoreError
    # The stream router comes before events so /api/events/stream is not taken for an id.
    for module in (
        auth,
        me,
        cameras,
        camera_setup,
        stream,
        shares,
        hub_link,
        events,
        history,
        exports,
        live,
        settings,
        users,
        push,
        review,
        views,
        encryption,
        system,
        familiar,
    ):
        app.include_router(module.router)
    app.include_router(enrol.router)
    app.include_router(auth.public)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    # Outermost last: the Host is checked before anything reads the body or reaches a route.
    app.add_middleware(BodyLimit, limit=services.max_body_bytes)
    web = services.config.web
    app.add_middleware(HostCheck, allowed=AllowedHosts.build(web.allowed_hosts, web.host))
    app.add_middleware(SecurityHeaders)
    return app
