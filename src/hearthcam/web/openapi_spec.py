"""The OpenAPI spec as the app really answers: what FastAPI derives, made true where it is not.

FastAPI documents a 422 body as its own list of errors, while ``server._on_validation_error``
answers ``{"detail": "<words>"}``; and it does not know the answers that come before a route
runs (the Host check's 421, the body limit's 413 and 400, a body that is not text's 400) or
the 405 of a method a path does not take. ``truthful`` rewrites the derived spec once, so
schemathesis (tests/web/test_schemathesis.py) and any client generated from it agree with the
wire.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import compile_path

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
# Answers of the middleware and of the body parser, before or instead of the route.
EVERY_OPERATION = {421: "Misdirected Request: the Host is not one this app answers to"}
WITH_BODY = {
    400: "Bad Request: the body could not be read (not UTF-8 text, or a malformed length)",
    413: "Content Too Large: the body is over the limit",
    422: "Unprocessable Entity: the body is not valid JSON or does not fit the schema",
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def truthful(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every error answer the app gives documented as ``ErrorOut``."""
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            extra = dict(EVERY_OPERATION)
            if "requestBody" in operation:
                extra.update(WITH_BODY)
            if operation.get("parameters"):
                extra[422] = "Unprocessable Entity: a parameter does not fit its schema"
            for code, description in extra.items():
                responses.setdefault(str(code), _error(description))
            if "422" in responses:  # FastAPI's own error list is never what is sent
                responses["422"]["content"] = {"application/json": {"schema": ERROR_REF}}
    schemas = spec.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return spec


def allowed_methods(spec: dict[str, Any], path: str, found: str) -> str:
    """The ``Allow`` header of a 405 at ``path``: every method the spec gives it, with the
    ones the router ``found`` (its first matching route's; pages are not in the spec).

    The router names only the methods of the first route whose path matched, so a path served
    by a GET route and a PUT route would claim to take GET alone.
    """
    methods = {m.strip().upper() for m in found.split(",") if m.strip()}
    for template, item in spec.get("paths", {}).items():
        pattern, _format, _convertors = compile_path(template)
        if pattern.match(path):
            methods |= {m.upper() for m in item if m in METHODS}
    return ", ".join(sorted(methods))
