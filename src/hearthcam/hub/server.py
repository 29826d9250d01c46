"""The hub's HTTP API for homes: link with a one-time code, say hello, unlink, fetch the view log.

Every request is signed (``signing``). A link request is signed by the key it offers, which
proves the home holds that key; every other request must come from a linked home. Every
response, refusals and unknown paths included, is signed by the hub over the request's nonce
("" when the request carried none), so a home can tell the hub it pinned from anyone between.

Refusals answer ``{"detail": reason}``: 401 for a signature refused (``SignatureError.reason``),
403 for a code that is unknown, used or expired, 409 for a key linked already, 422 for a body
that is not a link request or a query that is not a log request, 404 for a log asked of a hub
that keeps none. ``start_hub`` runs the app on uvicorn in a thread, as the web app's
``serve.start_server`` does.

``GET /hub/v1/log?kept=N`` is a linked home's round of checking the hub's view log
(``hub.monitor``): N is the size of the checkpoint the home kept (0 for none). The hub answers
with its newest checkpoint (signing one first when the log changed since the latest), the
consistency proof from N to it, and the home's own entries with their audit paths. A kept size
above the log's is answered like any other: the home's check names the log SHRUNK, and an error
here would only hide that. The checkpoints are signed by the log's ``AuditKey``, not by the
hub's identity; the link answer names its public half (``log_key``).

``GET /hub/v1/log/consistency?first=N&second=M`` answers the RFC 6962 proof that the log of N
entries is a prefix of the log of M (``0 < N <= M <=`` its size; 422 otherwise): what two homes
comparing their checkpoints of this hub ask (``hub.monitor.compare_checkpoints``).

``GET /hub/v1/models/latest`` answers the newest model the hub offers (``hub.models``: manifest,
signature, file), 404 ``no model`` when there is none (or the app was made without models).

Clips (``hub.clips``, when the app is given a ``HubClips``; 404 ``no clip store`` otherwise): ``PUT
/hub/v1/clips/{clip_id}?receipt=<sha256 hex>&keep_until=<unix s>[&features=<v>:<n,...>]`` with the
clip's bytes as the body (the request's signature covers them, and ``features``, what the home's
model read from the event, for the hub's training) keeps a clip: 201, 409 when the home sent that id
before, 413 above ``MAX_CLIP_BYTES`` (refused before the body is read when its length is declared,
and while reading otherwise), 422 for a bad id or query. ``DELETE`` of the same path deletes it and
answers the hub's signed ``DeletionReceipt`` (404 for a clip the home does not have there, another
home's included); ``GET /hub/v1/clips`` lists the home's clips, and those the hub's own checks
refused (``hub.checks``: deleted, with why and the deletion receipt). Unlinking deletes every clip
of the home first and answers the receipts.

The link answer carries the terms the hub's operator states for shared clips (``hub.terms``:
operator, where the annotators work, days kept), or null: a home shares no clip with a hub that
states none.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hearthcam.hub import clips as clip_store
from hearthcam.hub.checks import HubChecks
from hearthcam.hub.clips import (
    ClipAlreadyHeld,
    ClipFeatures,
    ClipTooLarge,
    HubClips,
    parse_features,
    receipt_to_json,
)
from hearthcam.hub.identity import HubError, Identity, encode_b64, key_id_of, public_key_from_b64
from hearthcam.hub.models import HubModels, model_to_json
from hearthcam.hub.monitor import checkpoint_to_json
from hearthcam.hub.registry import HubRegistry, LinkRefused
from hearthcam.hub.signing import NONCE_HEADER, RequestVerifier, SignatureError, sign_response
from hearthcam.hub.terms import HubTerms
from hearthcam.hub.workbench import HubWorkbench, add_workbench
from hearthcam.threaded_server import GRACEFUL_SECONDS, listen, serve_in_thread
from hearthcam.viewlog.log import AuditLog

__all__ = ["HubServer", "hub_app", "start_hub"]

PREFIX: Final = "/hub/v1"
WINDOW_S: Final = 60.0
NAME_MAX: Final = 100
# The most digits a kept size may have: far above any log, far below a costly int().
KEPT_DIGITS: Final = 18
_HEX_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")

_log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

_REFUSAL_STATUS: Final = {"unknown or used code": 403, "expired code": 403, "already linked": 409}


class _LinkBody(BaseModel):
    """What a home sends to link: the code it was given, its public key and its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=64)
    public_key: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=NAME_MAX)

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str) -> str:
        # The operator reads it in lists and logs: no control characters to garble them.
        if not name.isprintable() or not name.strip():
            raise ValueError("a name is printable text")
        return name


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    payload: dict[str, Any]


def _refused(status: int, detail: str) -> _Answer:
    return _Answer(status, {"detail": detail})


def _kept_size(target: str) -> int | None:
    """The ``kept`` size a log request's query names; None unless it is exactly one whole
    number and nothing else is asked."""
    try:
        query = parse_qs(urlsplit(target).query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    values = query.get("kept", [])
    if set(query) != {"kept"} or len(values) != 1:
        return None
    text = values[0]
    if not (text.isascii() and text.isdigit() and len(text) <= KEPT_DIGITS):
        return None
    return int(text)


def _pair_query(target: str) -> tuple[int, int] | None:
    """The ``first`` and ``second`` sizes a consistency request names; None unless it names
    exactly those, once each, as whole numbers with ``0 < first <= second``."""
    try:
        query = parse_qs(urlsplit(target).query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if set(query) != {"first", "second"} or any(len(v) != 1 for v in query.values()):
        return None
    texts = (query["first"][0], query["second"][0])
    if not all(t.isascii() and t.isdigit() and len(t) <= KEPT_DIGITS for t in texts):
        return None
    first, second = int(texts[0]), int(texts[1])
    return (first, second) if 0 < first <= second else None


def _clip_query(target: str) -> tuple[str, int, ClipFeatures | None] | None:
    """The consent receipt's digest (lower case), the keep-until time and the event's features
    (optional) a clip upload's query names; None unless it names exactly those, once each, in
    their forms."""
    try:
        query = parse_qs(urlsplit(target).query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if not {"receipt", "keep_until"} <= set(query) <= {"receipt", "keep_until", "features"}:
        return None
    if any(len(v) != 1 for v in query.values()):
        return None
    receipt, keep_until = query["receipt"][0], query["keep_until"][0]
    if not _HEX_DIGEST.fullmatch(receipt):
        return None
    if not (keep_until.isascii() and keep_until.isdigit() and len(keep_until) <= KEPT_DIGITS):
        return None
    features = None
    if "features" in query:
        features = parse_features(query["features"][0])
        if features is None:
            return None
    return receipt.lower(), int(keep_until), features


def _target(scope: Scope) -> str:
    """The request target as the client sent it (path and query): what its signature covers."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    if query and b"?" not in raw:
        raw += b"?" + query
    return raw.decode("latin-1")


class _Hub:
    """The routes' work, done off the event loop (the registry blocks on its database)."""

    def __init__(
        self,
        registry: HubRegistry,
        identity: Identity,
        clock: Callable[[], float],
        log: AuditLog | None,
        clips: HubClips | None = None,
        terms: HubTerms | None = None,
        models: HubModels | None = None,
        checks: HubChecks | None = None,
    ) -> None:
        self._checks = checks
        self._registry = registry
        self._clips = clips
        self._models = models
        self._terms = terms
        self._identity = identity
        self._clock = clock
        self._log = log
        key = None if log is None else log.key
        if log is not None and key is None:
            raise HubError("the hub's view log must be opened with its signing key")
        self._log_key = None if key is None else encode_b64(key.public_raw())
        self._homes = RequestVerifier(registry.public_key, WINDOW_S, clock)
        # A link request is checked against the key its own body offers; this request's offer.
        self._offered: ContextVar[Ed25519PublicKey | None] = ContextVar("offered", default=None)
        self._links = RequestVerifier(self._offered_key, WINDOW_S, clock)

    def _offered_key(self, key_id: str) -> Ed25519PublicKey | None:
        offered = self._offered.get()
        return offered if offered is not None and key_id_of(offered) == key_id else None

    def link(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        try:
            request = _LinkBody.model_validate_json(body)
            offered = public_key_from_b64(request.public_key)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return _refused(422, f"malformed link request: {where}: {first['msg']}")
        except HubError as error:
            return _refused(422, f"malformed link request: public_key: {error}")
        token = self._offered.set(offered)
        try:
            self._links.verify("POST", target, body, headers)
        except SignatureError as error:
            return _refused(401, error.reason)
        finally:
            self._offered.reset(token)
        try:
            home_id = self._registry.link(
                request.code, request.public_key, request.name, self._clock()
            )
        except LinkRefused as error:
            return _refused(_REFUSAL_STATUS[error.reason], error.reason)
        _log.info("home %d linked: %s (key %s)", home_id, request.name, key_id_of(offered))
        return _Answer(
            200,
            {
                "home_id": home_id,
                "hub_key": self._identity.public_b64,
                "hub_fingerprint": self._identity.fingerprint(),
                "log_key": self._log_key,
                "terms": None if self._terms is None else self._terms.to_json(),
            },
        )

    def _home(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str]
    ) -> int | _Answer:
        """The id of the linked home that signed this request, or the refusal to answer."""
        try:
            key_id = self._homes.verify(method, target, body, headers)
        except SignatureError as error:
            return _refused(401, error.reason)
        home_id = self._registry.home_id(key_id)
        if home_id is None:  # unlinked since its key was looked up
            return _refused(401, "unknown key")
        return home_id

    def hello(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        home_id = self._home("GET", target, body, headers)
        if isinstance(home_id, _Answer):
            return home_id
        return _Answer(200, {"home_id": home_id})

    def view_log(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        """A home's round: the newest checkpoint, the proof it extends the home's kept one, and
        the home's entries with their audit paths. Only a linked home learns even whether the
        hub keeps a log; a home never gets another home's entries."""
        home_id = self._home("GET", target, body, headers)
        if isinstance(home_id, _Answer):
            return home_id
        if self._log is None:
            return _refused(404, "no view log")
        kept = _kept_size(target)
        if kept is None:
            return _refused(422, "malformed log request: kept: a whole number of entries")
        # The latest checkpoint when it covers the log as it is; a new one when the log has
        # changed since (grown, or cut back: then the home must see the smaller log, signed).
        checkpoint = self._log.checkpoint(self._clock())
        size = checkpoint.size
        consistency = self._log.consistency_proof(kept, size) if 0 < kept < size else []
        entries = [
            {
                "index": proven.logged.index,
                "bytes": encode_b64(proven.logged.data),
                "proof": [encode_b64(node) for node in proven.proof],
            }
            for proven in self._log.proven_entries(home_id, checkpoint)
        ]
        return _Answer(
            200,
            {
                "checkpoint": checkpoint_to_json(checkpoint),
                "consistency": [encode_b64(node) for node in consistency],
                "entries": entries,
            },
        )

    def consistency(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        """The proof that the log of ``first`` entries is a prefix of the log of ``second``,
        for homes comparing their checkpoints with each other (gossip); 422 for sizes beyond
        the log as it is."""
        home_id = self._home("GET", target, body, headers)
        if isinstance(home_id, _Answer):
            return home_id
        if self._log is None:
            return _refused(404, "no view log")
        pair = _pair_query(target)
        if pair is None:
            return _refused(422, "malformed consistency request: 0 < first <= second")
        first, second = pair
        if second > self._log.size():
            return _refused(422, f"the log has fewer than {second} entries")
        proof = self._log.consistency_proof(first, second) if first < second else []
        return _Answer(200, {"proof": [encode_b64(node) for node in proof]})

    def _clip_home(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str], clip_id: str
    ) -> tuple[int, HubClips] | _Answer:
        """The linked home asking about clip ``clip_id`` ("" for none) and the clip store, or
        the refusal to answer."""
        home_id = self._home(method, target, body, headers)
        if isinstance(home_id, _Answer):
            return home_id
        if self._clips is None:
            return _refused(404, "no clip store")
        if clip_id and not clip_store.is_clip_id(clip_id):
            return _refused(422, "malformed clip request: clip_id: 1-64 of A-Z a-z 0-9 _ -")
        return home_id, self._clips

    def put_clip(
        self, target: str, body: bytes, headers: Mapping[str, str], clip_id: str
    ) -> _Answer:
        found = self._clip_home("PUT", target, body, headers, clip_id)
        if isinstance(found, _Answer):
            return found
        home_id, clips = found
        query = _clip_query(target)
        if query is None:
            return _refused(
                422,
                "malformed clip request: receipt (sha256 hex), keep_until (unix s) and "
                "optionally features (version:numbers)",
            )
        receipt_digest, keep_until, features = query
        try:
            clip = clips.add(
                home_id, clip_id, body, receipt_digest, keep_until, self._clock(), features
            )
        except ClipAlreadyHeld as error:
            return _refused(409, str(error))
        except ClipTooLarge as error:
            return _refused(413, str(error))
        _log.info("home %d sent a clip of %d bytes", home_id, clip.size)
        if self._checks is not None:
            self._checks.notify()  # the hub's own checks look at it before anyone may
        return _Answer(201, {"clip_id": clip.clip_id, "sha256": clip.sha256, "size": clip.size})

    def delete_clip(
        self, target: str, body: bytes, headers: Mapping[str, str], clip_id: str
    ) -> _Answer:
        found = self._clip_home("DELETE", target, body, headers, clip_id)
        if isinstance(found, _Answer):
            return found
        home_id, clips = found
        receipt = clips.delete(home_id, clip_id, self._clock())
        if receipt is None:
            return _refused(404, "no such clip")
        _log.info("home %d withdrew a clip", home_id)
        return _Answer(200, {"receipt": receipt_to_json(receipt)})

    def list_clips(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        found = self._clip_home("GET", target, body, headers, "")
        if isinstance(found, _Answer):
            return found
        home_id, clips = found
        listed = [
            {"clip_id": clip.clip_id, "size": clip.size, "keep_until": clip.keep_until}
            for clip in clips.list(home_id)
        ]
        refused = [] if self._checks is None else self._checks.refused(home_id)
        return _Answer(200, {"clips": listed, "refused": refused})

    def latest_model(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        """The newest model the hub offers, signed, with its lineage (404 ``no model``)."""
        home_id = self._home("GET", target, body, headers)
        if isinstance(home_id, _Answer):
            return home_id
        model = None if self._models is None else self._models.latest()
        if model is None:
            return _refused(404, "no model")
        return _Answer(200, {"model": model_to_json(model)})

    def unlink(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Answer:
        """Deletes every clip the home sent, then unlinks it; answers the deletion receipts."""
        try:
            key_id = self._homes.verify("POST", target, body, headers)
        except SignatureError as error:
            return _refused(401, error.reason)
        home_id = self._registry.home_id(key_id)
        if home_id is None:
            return _refused(401, "unknown key")
        receipts = [] if self._clips is None else self._clips.delete_home(home_id, self._clock())
        if not self._registry.unlink(key_id, self._clock()):
            return _refused(401, "unknown key")
        _log.info("home with key %s unlinked, %d clips deleted", key_id, len(receipts))
        return _Answer(200, {"unlinked": True, "receipts": [receipt_to_json(r) for r in receipts]})


def _respond(answer: _Answer) -> Response:
    response = JSONResponse(answer.payload, status_code=answer.status)
    if answer.status == 401:
        response.headers["WWW-Authenticate"] = "Hearthcam-Signature"
    return response


class _SignResponses:
    """ASGI middleware: holds each response whole and adds the hub's signature over it.

    An error the app raised is answered here with a signed 500, since the server's own error
    page would go out unsigned."""

    def __init__(self, app: ASGIApp, identity: Identity) -> None:
        self._app = app
        self._identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        nonce = Headers(scope=scope).get(NONCE_HEADER, "")
        start: Message | None = None
        chunks: list[bytes] = []
        sent = False

        async def send_signed(status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
            nonlocal sent
            body = b"".join(chunks)
            headers = MutableHeaders(raw=raw_headers)
            for name, value in sign_response(self._identity, nonce, status, body).items():
                headers[name] = value
            sent = True
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await send_signed(start["status"], list(start.get("headers", [])))
            else:
                await send(message)

        try:
            await self._app(scope, receive, hold)
        except Exception:
            if sent:
                raise
            _log.exception("the hub failed to answer %s %s", scope["method"], scope["path"])
            chunks[:] = [b'{"detail":"internal error"}']
            await send_signed(500, [(b"content-type", b"application/json")])


def hub_app(
    registry: HubRegistry,
    identity: Identity,
    clock: Callable[[], float] = time.time,
    *,
    log: AuditLog | None = None,
    clips: HubClips | None = None,
    terms: HubTerms | None = None,
    models: HubModels | None = None,
    checks: HubChecks | None = None,
    workbench: HubWorkbench | None = None,
) -> FastAPI:
    """The hub's API over ``registry``, answering as ``identity``; ``clock`` is for tests.

    ``log`` is the hub's view log, served to linked homes; it must be opened with its signing
    key (HubError otherwise), since the hub signs a checkpoint whenever the log has changed.
    Without one the log route answers 404 and the link answer names no ``log_key``. ``clips``
    holds the clips homes send; without it the clip routes answer 404. ``terms`` are what the
    link answer states for shared clips (homes cannot share with a hub that states none).
    ``workbench`` adds the pages and API of the people at the hub (``hub.workbench``)."""
    hub = _Hub(registry, identity, clock, log, clips, terms, models, checks)
    app = FastAPI(title="hearthcam hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_SignResponses, identity=identity)

    async def _body(request: Request) -> tuple[str, bytes]:
        return _target(request.scope), await request.body()

    def signed(work: Callable[[str, bytes, Mapping[str, str]], _Answer]) -> Endpoint:
        """The route of ``work``: the request's target, body and headers in, its answer out
        (off the event loop: the registry blocks on its database)."""

        async def endpoint(request: Request) -> Response:
            target, body = await _body(request)
            return _respond(await run_in_threadpool(work, target, body, request.headers))

        return endpoint

    for method, path, work in (
        ("POST", "link", hub.link),
        ("GET", "hello", hub.hello),
        ("GET", "log", hub.view_log),
        ("GET", "log/consistency", hub.consistency),
        ("GET", "clips", hub.list_clips),
        ("GET", "models/latest", hub.latest_model),
        ("POST", "unlink", hub.unlink),
    ):
        app.add_api_route(f"{PREFIX}/{path}", signed(work), methods=[method])

    @app.put(PREFIX + "/clips/{clip_id}")
    async def put_clip(request: Request, clip_id: str) -> Response:
        declared = request.headers.get("content-length", "")
        limit = clip_store.MAX_CLIP_BYTES
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return _respond(_refused(413, f"a clip is at most {limit} bytes"))
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _respond(_refused(413, f"a clip is at most {limit} bytes"))
            chunks.append(chunk)
        target, body = _target(request.scope), b"".join(chunks)
        return _respond(
            await run_in_threadpool(hub.put_clip, target, body, request.headers, clip_id)
        )

    @app.delete(PREFIX + "/clips/{clip_id}")
    async def delete_clip(request: Request, clip_id: str) -> Response:
        target, body = await _body(request)
        return _respond(
            await run_in_threadpool(hub.delete_clip, target, body, request.headers, clip_id)
        )

    if workbench is not None:
        add_workbench(app, workbench)
    return app


@dataclass
class HubServer:
    """A running hub: its address, and ``stop``."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where the hub answers."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the server and waits for its thread (idempotent)."""
        self.server.should_exit = True
        self.thread.join(timeout)


def start_hub(app: FastAPI, host: str, port: int, ready_timeout: float = 15.0) -> HubServer:
    """Runs ``app`` on ``host:port`` (0: any free port) in a thread; returns once it listens.

    Uvicorn runs off the main thread, where it leaves the process's signals to their owner.
    HubError if it cannot bind or does not start within ``ready_timeout`` seconds."""
    sock = listen(host, port, HubError)
    config = uvicorn.Config(
        app,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        server_header=False,
        proxy_headers=False,
        log_level="info",
    )
    server, thread, bound = serve_in_thread(
        config,
        sock,
        "hub",
        ready_timeout,
        lambda: HubError(f"the hub did not start on {host}:{port}"),
    )
    return HubServer(server, thread, host, bound)
