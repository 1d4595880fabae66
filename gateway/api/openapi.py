"""OpenAPI 3.1 generated from the route table and each route's `@endpoint` declaration, served with /docs."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api.keys import API
from gateway.api.problem import TITLES
from gateway.api.routing import (
    BACKOFFICE_API,
    SIGNED_PREFIXES,
    Endpoint,
    body_limit,
    endpoint_of,
    is_declared,
    roles_of,
)
from gateway.settings import ApiSettings
from gateway.web.pages import is_page

__all__ = ["build_openapi", "undeclared_routes"]

_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad request (missing Idempotency-Key, malformed request)",
    401: "Not authenticated",
    403: "Forbidden (role)",
    404: "Not found (also another participant's object)",
    409: "Conflict (state, rule, Idempotency-Key in flight)",
    422: "Invalid input (field-level reasons), or Idempotency-Key reused with another body",
    500: "Internal error (quote request_id)",
    503: "Unavailable or timed out: retry with the same Idempotency-Key",
}
SIGNATURE_DOC = (
    "Every request on /api/v1/ and /callbacks/v1/ carries X-GW-Party, X-GW-Timestamp (Unix seconds), "
    "X-GW-Nonce (16–64 of [A-Za-z0-9_-], never reused) and X-GW-Signature: base64 of the DER SM2 signature "
    "(SM3, signer ID 1234567812345678) over six lines joined by \\n: METHOD, path and query as on the "
    "request line, timestamp, nonce, party, lower-case hex SM3 of the raw body. Skew over 300 s or a reused "
    "nonce is refused. Every response is signed the same way by `registry`, with the status in place of "
    "the method and the request's nonce in place of the path."
)
IDEMPOTENCY_DOC = (
    "Every POST on /api/v1/ and /callbacks/v1/ needs an Idempotency-Key (a UUID is recommended), scoped to "
    "the calling participant. Missing → 400; reused with another request → 422; while the first is still "
    "processing → 409; after it completed → the stored response, byte for byte, with no new effect "
    "(header Idempotent-Replayed: true). Completed keys are kept for at least 24 hours, then forgotten. "
    "A request that failed (4xx/5xx) keeps no result: retrying with the same key runs it again."
)


class Problem(BaseModel):
    """RFC 9457 problem details, with the gateway's extension members."""

    type: str
    title: str
    status: int
    detail: str
    detail_zh: str
    instance: str
    code: str
    request_id: str
    errors: list[dict[str, str]] | None = None  # [{field, reason_zh, reason_en}]
    rules: list[dict[str, str]] | None = None  # [{name, reason_zh, reason_en}]


def _auth(path: str, spec: Endpoint) -> tuple[list[dict[str, list[str]]], tuple[int, ...]]:
    if path.startswith(SIGNED_PREFIXES):
        return [{"gwSignature": []}], (400, 401, 413, 422)
    if path.startswith(BACKOFFICE_API):
        if spec.public:  # login: no token, but a body the API checks like any other
            return [], (413, 422)
        return [{"bearerAuth": []}], (401, 403, 413, 422)
    return [], ()


def _operation(
    method: str,
    path: str,
    handler: Any,
    schemas: dict[Any, Any],
    definitions: dict[str, Any],
    settings: ApiSettings,
) -> dict[str, Any]:
    spec = endpoint_of(handler)
    limit = body_limit(spec, settings)
    security, statuses = _auth(path, spec)
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(path)
    ]
    if spec.query is not None:
        # The query model's own schema from the shared components, so that its $refs (an enum such as
        # CaseState) point at #/components/schemas like every other, not at a $defs the document lacks.
        query_schema = definitions[schemas[(spec.query, "validation")]["$ref"].rsplit("/", 1)[1]]
        for name, prop in query_schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in query_schema.get("required", []),
                    "schema": prop,
                }
            )
    if method == "POST" and path.startswith(SIGNED_PREFIXES) and spec.idempotent is not False:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 255},
                "description": IDEMPOTENCY_DOC,
            }
        )
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(spec.status, "OK")}
    if spec.response is not None:
        ok["content"] = {spec.response_content_type: {"schema": schemas[(spec.response, "serialization")]}}
    elif spec.response_content_type != "application/json":
        ok["content"] = {spec.response_content_type: {"schema": {"type": "string"}}}
    if spec.response_headers:
        ok["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in spec.response_headers
        }
    responses: dict[str, Any] = {str(spec.status): ok}
    takes_input = bool(params) or spec.request is not None or spec.request_content_type != "application/json"
    invalid = (422,) if takes_input else ()  # any input may be refused (a NUL character, at least)
    for status in sorted({*statuses, *spec.errors, *invalid, 500}):
        text = _STATUS_TEXT.get(status, "Error")
        if status == 413:
            text = f"Body over this route's limit of {limit:,} bytes"
        responses[str(status)] = {
            "description": text,
            "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
        }
    description = "\n\n".join(part for part in (spec.summary_zh, spec.description) if part)
    roles = roles_of(handler)
    if roles:
        description += "\n\nRoles 岗位: " + ", ".join(roles)
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{handler.__name__}",
        "summary": spec.summary,
        "description": description,
        "tags": list(spec.tags) or [path.strip("/").split("/")[0]],
        "parameters": params,
        "responses": responses,
        "security": security,
    }
    if roles:
        operation["x-roles"] = list(roles)
    if "413" in responses:
        operation["x-max-body-bytes"] = limit  # the request body limit (no OpenAPI keyword says it)
    if spec.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {spec.request_content_type: {"schema": schemas[(spec.request, "validation")]}},
        }
    elif spec.request_content_type != "application/json":
        # A raw upload: the body is the file itself (without this, clients and fuzzers never send one).
        operation["requestBody"] = {
            "required": True,
            "content": {spec.request_content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    return operation


def _routes(app: web.Application) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":  # HEAD is added beside every GET
            continue
        if isinstance(resource, web.StaticResource) or is_page(route.handler):  # HTML, not the API
            continue
        found.append((route.method, resource.canonical, route.handler))
    return found


def build_openapi(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `app` (a test checks none is missing)."""
    found = _routes(app)
    models: set[tuple[type[BaseModel], str]] = {(Problem, "serialization")}
    for _, _, handler in found:
        spec = endpoint_of(handler)
        if spec.request is not None:
            models.add((spec.request, "validation"))
        if spec.response is not None:
            models.add((spec.response, "serialization"))
        if spec.query is not None:
            models.add((spec.query, "validation"))
    ordered = sorted(models, key=lambda m: (m[0].__name__, m[1]))
    schemas, definitions = models_json_schema(ordered, ref_template=_REF)  # type: ignore[arg-type]
    components = definitions.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in sorted(found, key=lambda r: (r[1], r[0])):
        operation = _operation(method, path, handler, schemas, components, app[API].settings)
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "不动产登记+金融 一体办 Gateway API",
            "version": "1.0.0",
            "description": f"{SIGNATURE_DOC}\n\n{IDEMPOTENCY_DOC}",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "gwSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-GW-Signature",
                    "description": SIGNATURE_DOC,
                },
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Back office: the token from POST /backoffice/api/v1/login",
                },
            },
        },
        "x-problem-codes": {code: {"zh": zh, "en": en} for code, (zh, en) in TITLES.items()},
    }


def undeclared_routes(app: web.Application) -> list[str]:
    """Routes with no `@endpoint` declaration (the OpenAPI test fails on any)."""
    return [f"{m} {p}" for m, p, h in _routes(app) if not is_declared(h)]
