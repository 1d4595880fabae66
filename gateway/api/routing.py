"""Route metadata every handler declares (models, status, limits, roles), and the helpers handlers use."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.api.keys import ACTOR, BODY_LIMIT
from gateway.errors import FieldReason, Forbidden, InputError, LoginRequired, PayloadTooLarge
from gateway.security.roles import Role
from gateway.security.users import Actor
from gateway.settings import ApiSettings

__all__ = [
    "BACKOFFICE_API",
    "BANK_API",
    "CALLBACKS",
    "PUBLIC",
    "SIGNED_PREFIXES",
    "UPLOAD",
    "Endpoint",
    "Limit",
    "Offset",
    "actor_of",
    "body_limit",
    "content_disposition",
    "endpoint",
    "endpoint_of",
    "json_response",
    "read_json",
    "read_query",
    "refuse_declared_excess",
    "refuse_nul",
    "require_role",
    "roles_of",
]

BANK_API = "/api/v1/"
BACKOFFICE_API = "/backoffice/api/v1/"
CALLBACKS = "/callbacks/v1/"
PUBLIC = "/public/"
# Requests on these prefixes are SM2-signed by a participant; every response on them is signed by us.
SIGNED_PREFIXES = (BANK_API, CALLBACKS)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
M = TypeVar("M", bound=BaseModel)
_ENDPOINT_ATTR = "__gateway_endpoint__"
_ROLES_ATTR = "__gateway_roles__"

# Integer query parameters: every one is bounded (`endpoint` refuses a query model with an unbounded int),
# so that no number reaches the database beyond what its integers hold (an offset past int64 was a 500).
# The bounds are pydantic's, so the OpenAPI document states them as minimum/maximum.
MAX_OFFSET = 2**31 - 1  # far beyond any list, and an INTEGER on every database
Limit = Annotated[int, Field(ge=1, le=100)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]


@dataclass(frozen=True)
class Endpoint:
    """What a route takes and gives: read by the middlewares (limits, idempotency, auth) and by OpenAPI."""

    summary: str
    summary_zh: str = ""
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: type[BaseModel] | None = None
    # Request body limit in bytes; None is ApiSettings.max_json_bytes (1 MiB), UPLOAD is max_upload_bytes.
    # Never more than max_upload_bytes, the app's ceiling (see `body_limit`).
    max_body: int | None = None
    request_content_type: str = "application/json"
    response_content_type: str = "application/json"
    # None: every POST on a signed prefix needs an Idempotency-Key. False opts a read-only POST out.
    idempotent: bool | None = None
    # True only for back-office routes reachable without a token (login).
    public: bool = False
    tags: tuple[str, ...] = ()
    # Problem statuses the route documents beyond the ones every route of its prefix can return.
    errors: tuple[int, ...] = ()
    description: str = ""
    # Headers of the success response worth documenting: (name, description).
    response_headers: tuple[tuple[str, str], ...] = ()


_DEFAULT = Endpoint(summary="")
# `max_body=UPLOAD`: the route takes the largest body the gateway reads, ApiSettings.max_upload_bytes.
UPLOAD = -1


def body_limit(spec: Endpoint, settings: ApiSettings) -> int:
    """The body limit of a route in bytes: what the middleware enforces and the OpenAPI document states."""
    if spec.max_body is None:
        return settings.max_json_bytes
    if spec.max_body == UPLOAD:
        return settings.max_upload_bytes
    return min(spec.max_body, settings.max_upload_bytes)


def endpoint(
    summary: str,
    *,
    summary_zh: str = "",
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    query: type[BaseModel] | None = None,
    max_body: int | None = None,
    request_content_type: str = "application/json",
    response_content_type: str = "application/json",
    idempotent: bool | None = None,
    public: bool = False,
    tags: Sequence[str] = (),
    errors: Sequence[int] = (),
    description: str = "",
    response_headers: Sequence[tuple[str, str]] = (),
) -> Callable[[H], H]:
    """Declare a handler's contract; the OpenAPI document is generated from these declarations."""
    if query is not None:
        _require_bounded_ints(query)
    spec = Endpoint(
        summary=summary,
        summary_zh=summary_zh,
        request=request,
        response=response,
        status=status,
        query=query,
        max_body=max_body,
        request_content_type=request_content_type,
        response_content_type=response_content_type,
        idempotent=idempotent,
        public=public,
        tags=tuple(tags),
        errors=tuple(errors),
        description=description,
        response_headers=tuple(response_headers),
    )

    def declare(handler: H) -> H:
        setattr(handler, _ENDPOINT_ATTR, spec)
        return handler

    return declare


def _require_bounded_ints(model: type[BaseModel]) -> None:
    """A declaration error (at import) for an integer query parameter without both bounds."""
    for name, field in model.model_fields.items():
        if field.annotation is not int:
            continue
        bounds = {type(m).__name__ for m in field.metadata}
        if not ({"Ge", "Gt"} & bounds and {"Le", "Lt"} & bounds):
            raise TypeError(f"{model.__name__}.{name}: an integer query parameter needs ge/gt and le/lt")


def require_role(*roles: Role) -> Callable[[H], H]:
    """Only back-office users holding one of `roles` may call the route (403 otherwise)."""
    allowed = frozenset(roles)

    def wrap(handler: H) -> H:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            actor = actor_of(request)
            if not actor.roles & allowed:
                raise Forbidden(
                    "this action needs one of the roles: " + ", ".join(sorted(allowed)),
                    "此操作需要以下岗位之一：" + "、".join(r.label_zh for r in sorted(allowed)),
                )
            return await handler(request)

        setattr(checked, _ROLES_ATTR, tuple(sorted(allowed)))
        return checked  # type: ignore[return-value]

    return wrap


def _handler_of(target: web.Request | Handler) -> Any:
    if isinstance(target, web.Request):
        return target.match_info.handler
    return target


def endpoint_of(target: web.Request | Handler) -> Endpoint:
    """The declared contract of a request's route (defaults for undeclared or unmatched routes)."""
    spec = getattr(_handler_of(target), _ENDPOINT_ATTR, None)
    return spec if isinstance(spec, Endpoint) else _DEFAULT


def is_declared(handler: Handler) -> bool:
    return isinstance(getattr(handler, _ENDPOINT_ATTR, None), Endpoint)


def roles_of(handler: Handler) -> tuple[Role, ...]:
    return tuple(getattr(handler, _ROLES_ATTR, ()))


def actor_of(request: web.Request) -> Actor:
    """The signed-in back-office user (set by the token middleware); audit records name `actor.id`."""
    actor: Actor | None = request.get(ACTOR)
    if actor is None:
        raise LoginRequired("not signed in", "未登录")
    return actor


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string parsed into the route's declared query `model` (bounded: see `Limit`, `Offset`);
    pydantic's errors become a 422 with field-level reasons."""
    return model.model_validate(dict(request.query))


def refuse_declared_excess(request: web.Request) -> None:
    """413 for a body whose declared length is beyond the route's limit (the middleware has set it)."""
    limit = request.get(BODY_LIMIT, 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


async def read_body(request: web.Request) -> bytes:
    """The raw body, refused with 413 beyond the route's limit (the middleware has set it)."""
    refuse_declared_excess(request)
    limit = request.get(BODY_LIMIT, 1024 * 1024)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a chunked body past the app's ceiling: the same answer
        raise too_large(limit) from None
    if len(body) > limit:
        raise too_large(limit)
    return body


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body parsed into `model`; pydantic's errors become a 422 with field-level reasons."""
    return model.model_validate_json(await read_body(request))


def refuse_nul(request: web.Request, body: bytes) -> None:
    """Refuse U+0000 in a path parameter, a declared query or a JSON body with a 422 naming the field.
    PostgreSQL cannot store it (in text or jsonb) and would fail the request with a 500; refused here, the
    same on SQLite. Cheap tests first: nearly every request passes them."""
    spec = endpoint_of(request)
    fields = []
    if "%00" in request.raw_path:
        path, _, query = request.raw_path.partition("?")
        if "%00" in path and request.match_info:  # an unknown path stays a 404
            fields.append("path")
        if "%00" in query and spec.query is not None:  # an undeclared query is never read
            fields.append("query")
    if spec.request_content_type == "application/json" and b"\\u0000" in body:
        # Not JSON (or nested beyond reason): the handler's parser gives that answer.
        with contextlib.suppress(ValueError, RecursionError):
            fields += list(_nul_fields(json.loads(body), ""))
    if fields:
        raise InputError(
            "text must not contain the NUL character (U+0000)",
            "文本不得包含空字符（U+0000）",
            [FieldReason(f, "不得包含空字符（U+0000）", "must not contain NUL (U+0000)") for f in fields],
        )


def _nul_fields(value: Any, at: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield at or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{at}.{key}" if at else str(key)
            if "\x00" in key:
                yield where
            yield from _nul_fields(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, f"{at}.{index}" if at else str(index))


def json_response(data: BaseModel | dict[str, Any] | list[Any], status: int = 200) -> web.Response:
    """A JSON response whose body is bytes (signed routes sign exactly these bytes)."""
    if isinstance(data, BaseModel):
        body = data.model_dump_json().encode()
    else:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than this route accepts ({limit} bytes)",
        f"请求体超过此接口的上限（{limit} 字节）",
    )


def content_disposition(filename: str) -> str:
    """`attachment` with the name as RFC 6266 / RFC 8187 `filename*` (UTF-8, percent-encoded), and an ASCII
    `filename` for clients that know only that: a certificate number is Chinese (粤（2026）…第0000001号)."""
    stem, dot, ext = filename.rpartition(".")
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem if dot else filename).strip("_")
    fallback = f"certificate-{ascii_stem}" if ascii_stem != stem else ascii_stem
    fallback += f".{re.sub(r'[^A-Za-z0-9]', '', ext)}" if dot else ""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
