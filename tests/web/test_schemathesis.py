"""The API against its own OpenAPI spec (schemathesis, in-process), and hostile inputs by hand.

Schemathesis generates requests for every operation as a logged-in owner with the CSRF header;
no answer may be a 5xx, and every answer must be one the spec documents, with the body and
headers it declares (every check but ``positive_data_acceptance``: a schema-valid body may
still carry a wrong password or code, which no schema can say). A 405 names every method the
path takes. The two endless streams (SSE, MJPEG) are left to their own tests: a
generated request to them would wait for events that never come. Then, explicitly: path
traversal in every path parameter, a 10 MB body, and malformed JSON must all get a 4xx.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from tests.support.world import PASSWORD, World
from tests.web.conftest import ClientFor

TRAVERSALS = (
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f",
    "..\\..\\windows\\win.ini",
    "....//....//etc",
    "%00",
    "a" * 300,
)
ENDLESS = r"^/api/events/stream$|^/api/live/\{camera\}/mjpeg$"


def _operations(world: World) -> list[Any]:
    """Every spec operation but the endless streams."""
    loaded = schemathesis.openapi.from_asgi("/api/openapi.json", world.app)
    operations = []
    for result in loaded.exclude(path_regex=ENDLESS).get_all_operations():
        assert isinstance(result, Ok), result  # an operation the spec describes badly
        operations.append(result.ok())
    return operations


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(world: World, mode: GenerationMode) -> None:
    world.add_event("front")
    world.add_event("garage")
    world.feed_frame("front")
    operations = _operations(world)
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:
        # The strategy API, not schemathesis' pytest plugin: the plugin's lazy fixture loader
        # reads a private pytest attribute that pytest 9 removed.
        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            # A fresh owner session per example: a generated logout or password change must
            # not turn the rest of the run into 401s.
            token = world.session_token("alice")
            response = case.call(
                headers={"X-CSRF-Token": world.csrf(token)}, cookies={"hc_session": token}
            )
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        try:
            run()
        except Unsatisfiable:
            continue  # negative mode: an operation without parameters or body has nothing to break
        except Exception as error:  # collected, so one run reports every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert failures == []


def test_a_405_allows_every_method_of_the_path(client_for: ClientFor) -> None:
    owner = client_for("alice")
    spec = owner.get("/api/openapi.json").json()
    for path, item in spec["paths"].items():
        concrete = re.sub(r"\{\w+\}", "0123456789abcdef0123456789abcdef", path)
        if "{" in path and "camera" in path:
            concrete = re.sub(r"\{camera\}", "front", path).replace("{", "").replace("}", "")
        answer = owner.request("TRACE", concrete)
        assert answer.status_code == 405, (path, answer.status_code)
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert {m.upper() for m in item} <= allowed, (path, allowed)
    # GET and PUT are two routes: the router alone named only the first one's method.
    assert owner.request("OPTIONS", "/api/settings").headers["allow"] == "GET, PUT"


def test_a_422_is_documented_as_it_is_sent(client_for: ClientFor) -> None:
    owner = client_for("alice")
    spec = owner.get("/api/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    for item in spec["paths"].values():
        for operation in item.values():
            for code in ("422", "400", "413"):
                if code in operation["responses"]:
                    content = operation["responses"][code]["content"]
                    assert content["application/json"]["schema"] == ref
    answer = owner.get("/api/events/not-an-id")
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)


def _templated_paths(client: TestClient) -> list[tuple[str, str, list[str]]]:
    """(method, path template, parameter names) of every spec operation with path parameters."""
    spec = client.get("/api/openapi.json").json()
    found: list[tuple[str, str, list[str]]] = []
    for path, item in spec["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if names:
            found.extend((method.upper(), path, names) for method in item)
    return found


def test_path_traversal_in_every_parameter_is_4xx(world: World, client_for: ClientFor) -> None:
    owner = client_for("alice")
    operations = _templated_paths(owner)
    # The WebSocket and the pages are not in the spec; they take the same parameter types.
    operations += [("GET", "/events/{event_id}", ["event_id"])]
    assert len(operations) >= 8
    for method, template, names in operations:
        for bad in TRAVERSALS:
            path = template
            for name in names:
                path = path.replace("{" + name + "}", bad)
            response = owner.request(method, path, follow_redirects=False)
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
    for bad in TRAVERSALS:
        response = owner.get("/api/events", params={"camera": bad})
        assert response.status_code == 422, bad
        assert owner.get(f"/static/{bad}", follow_redirects=False).status_code == 404


def test_websocket_traversal_is_refused(client_for: ClientFor) -> None:
    owner = client_for("alice")
    for bad in ("..%2F..%2Fetc", "%2e%2e", "a" * 300, "%00"):
        # Refused before the handshake: a denial (HTTP 4xx) where a route matched, a close
        # where none did (a decoded "/" leaves no route).
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            owner.websocket_connect(f"/api/live/{bad}/mse"),
        ):
            pass
        if isinstance(refused.value, WebSocketDenialResponse):
            assert 400 <= refused.value.status_code < 500, bad


def _body_operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/api/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation and "{" not in path
    ]


def test_huge_body_is_413(client_for: ClientFor) -> None:
    owner = client_for("alice")
    huge = b'{"username": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    operations = _body_operations(owner)
    assert len(operations) >= 8
    for method, path in operations:
        response = owner.request(
            method, path, content=huge, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, (method, path)
        assert "detail" in response.json()


def test_huge_chunked_body_is_413(client_for: ClientFor) -> None:
    owner = client_for("alice")

    def chunks() -> Any:
        for _ in range(200):
            yield b"x" * 65536

    response = owner.post(
        "/api/events/delete", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_malformed_json_is_422(world: World, client_for: ClientFor) -> None:
    owner = client_for("alice")
    # The code step needs a session waiting for a code (the admin has TOTP on).
    waiting = client_for("")
    state = waiting.post("/api/login", json={"username": "ada", "password": PASSWORD}).json()
    assert state["state"] == "mfa_pending"
    waiting.headers["X-CSRF-Token"] = state["csrf_token"]
    # An admin's route answers anyone else 403 before it reads the body.
    clients = {"/api/login/mfa": waiting, "/api/hub/link": client_for("ada")}
    for method, path in _body_operations(owner):
        client = clients.get(path, owner)
        for bad in (b"{", b"[1, 2", b'{"ids": [}', b"\xff\xfe", b"null", b'"string"'):
            response = client.request(
                method, path, content=bad, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (method, path, bad, response.text)
            assert isinstance(response.json()["detail"], str)
