"""The request pipeline: request id and metrics, response signing, authentication, idempotency.

Order (outermost first): `request_context` → `sign_responses` → `errors_middleware` (problem.py) →
`authenticate` → `idempotency` → handler. Signing sits outside the error middleware so that every response
on a signed prefix, problem+json included, carries the registry's signature.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from functools import partial
from typing import Any

import structlog
from aiohttp import web

from certs import sign_response, sm3_hex
from certs.async_ops import INLINE_MAX_BYTES, crypto_executor
from certs.request_signing import NONCE
from gateway.api.clients import client_address
from gateway.api.keys import ACTOR, API, BODY_LIMIT, IDEMPOTENCY, PARTICIPANT, REQUEST_ID
from gateway.api.problem import problem_response
from gateway.api.routing import (
    BACKOFFICE_API,
    SIGNED_PREFIXES,
    body_limit,
    endpoint_of,
    read_body,
    refuse_declared_excess,
    refuse_nul,
)
from gateway.errors import AuthenticationError, LoginRequired
from gateway.logging import bind_request, get_logger
from gateway.metrics import AUTH_FAILURES, record_request
from gateway.security.idempotency import (
    IdempotencyClaim,
    IdempotencyStore,
    StoredResponse,
    parse_idempotency_key,
)
from gateway.security.roles import Realm
from gateway.web.paths import is_page_path

__all__ = ["authenticate", "idempotency", "request_context", "sign_responses"]

log = get_logger("gateway.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.-]{8,64}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_signed(path: str) -> bool:
    return path.startswith(SIGNED_PREFIXES)


@web.middleware
async def request_context(request: web.Request, handler: Any) -> web.StreamResponse:
    """A request id (the caller's X-Request-ID when well-formed), log context, metrics, one log line."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    bind_request(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "(unmatched)"
        record_request(route, request.method, status, elapsed)
        where = {"client": client_address(request)}
        if "case_id" in request.match_info and "case_id" not in structlog.contextvars.get_contextvars():
            where["case_id"] = request.match_info[
                "case_id"
            ]  # asked for, even when refused before a service ran
        log.info(
            "request", method=request.method, route=route, status=status, ms=round(elapsed * 1000, 2), **where
        )
        structlog.contextvars.clear_contextvars()


@web.middleware
async def sign_responses(request: web.Request, handler: Any) -> web.StreamResponse:
    """Sign every response on /api/v1/ and /callbacks/v1/ (DESIGN Appendix A): status, request nonce, body."""
    if not is_signed(request.path):
        response: web.StreamResponse = await handler(request)
        return response
    response = await handler(request)
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes | bytearray):
        # A streamed body cannot be signed before it is sent; signed routes return bytes (json_response).
        log.error("unsigned response body on a signed route", type=type(response).__name__)
        response = problem_response(
            request,
            status=500,
            code="internal_error",
            detail_en="the response could not be signed",
            detail_zh="响应无法签名",
        )
        body = response.body
        assert isinstance(body, bytes)
    state = request.app[API]
    nonce = request.headers.get("X-GW-Nonce", "")
    if not NONCE.fullmatch(nonce):
        # Only a well-formed nonce is echoed into the signed lines: a header of undecodable bytes (kept by
        # aiohttp as surrogates) cannot be UTF-8 encoded, and a refused request's nonce proves nothing.
        nonce = ""
    sign = partial(sign_response, state.registry_key, response.status, nonce, bytes(body))
    if len(body) <= INLINE_MAX_BYTES:
        # ~0.35 ms of SM2 here; the hop to the crypto pool and back costs ~0.2 ms of CPU more (thread wake-up,
        # the loop's self-pipe), and with a process per core there is no idle core for it to use anyway.
        headers = sign()
    else:  # a large body (a PDF): SM3 over it would hold the loop up
        headers = await asyncio.get_running_loop().run_in_executor(crypto_executor(), sign)
    response.headers.update(headers)
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Body limit per route; the participant of a signed request; the back-office user of a token."""
    state = request.app[API]
    refused = request.match_info.http_exception
    if isinstance(refused, web.HTTPMethodNotAllowed):
        # A method the route does not take (TRACE, OPTIONS, ...) is a 405 with Allow whoever asks: no
        # signature or token can make it succeed, so asking for one would only mislead the caller.
        raise refused
    spec = endpoint_of(request)
    request[BODY_LIMIT] = body_limit(spec, state.settings)
    if is_signed(request.path):
        body = await read_body(request)
        try:
            participant = await state.verifier.verify(request.method, request.raw_path, request.headers, body)
        except AuthenticationError as exc:
            AUTH_FAILURES.labels(exc.code).inc()
            raise
        request[PARTICIPANT] = participant
        structlog.contextvars.bind_contextvars(party=participant.code)
    else:
        if _reads_body(request):
            body = await read_body(request)
        else:
            body = b""
            refuse_declared_excess(request)
        if request.path.startswith(BACKOFFICE_API) and not spec.public:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise LoginRequired(
                    "sign in first: send Authorization: Bearer <token> from POST /backoffice/api/v1/login",
                    "请先登录：携带登录接口返回的 Authorization: Bearer <token>",
                )
            actor = await state.users.authenticate(token.strip())
            if actor.realm is not Realm.REGISTRY:  # a portal session's token is not a back-office one
                raise LoginRequired("not signed in, or the session was ended", "未登录或会话已结束")
            request[ACTOR] = actor
            structlog.contextvars.bind_contextvars(actor=actor.id)
    refuse_nul(request, body)
    response: web.StreamResponse = await handler(request)
    return response


def _reads_body(request: web.Request) -> bool:
    """Whether the body is read here. Not a page's file upload (a multipart form): aiohttp parses multipart
    only from the stream, so a body read first leaves the page's form empty (the page middleware's CSRF
    check, then the handler, read it through request.post(); its route's limit is held by its declared
    length, `refuse_declared_excess`)."""
    if request.method not in _BODY_METHODS:
        return False
    return not (request.content_type == "multipart/form-data" and is_page_path(request.path))


def _needs_key(request: web.Request) -> bool:
    if request.method != "POST" or not is_signed(request.path):
        return False
    if request.match_info.http_exception is not None:  # unknown route: let it be a 404/405
        return False
    return endpoint_of(request).idempotent is not False


@web.middleware
async def idempotency(request: web.Request, handler: Any) -> web.StreamResponse:
    """Idempotency-Key on state-changing POSTs of signed prefixes: claim, run once, replay thereafter."""
    if not _needs_key(request):
        response: web.StreamResponse = await handler(request)
        return response
    store = request.app[API].idempotency
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    body = await request.read()
    fingerprint = sm3_hex(b"%s\n%s\n%s" % (request.method.encode(), request.raw_path.encode(), body))
    outcome = await store.claim(request[PARTICIPANT].code, key, fingerprint)
    if isinstance(outcome, StoredResponse):
        return _replayed(outcome)
    request[IDEMPOTENCY] = outcome
    try:
        response = await handler(request)
    except Exception:
        if outcome.completed:
            raise
        await _release(store, outcome)
        # Another request may have completed this key first (a repeat that ran again, the claim having
        # been lost): the client gets that stored response, not this run's error.
        stored = await store.completed_elsewhere(outcome)
        if stored is None:
            raise
        return _replayed(stored)
    except BaseException:  # cancelled: free the key, nothing more
        if not outcome.completed:
            await _release(store, outcome)
        raise
    if outcome.completed:
        return response
    body_out = response.body if isinstance(response, web.Response) else None
    if response.status < 400 and isinstance(body_out, bytes):
        # The handler had no transaction of its own to store the response in: store it now.
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        await store.complete_alone(outcome, response.status, body_out, content_type)
    else:
        await _release(store, outcome)
    return response


def _replayed(stored: StoredResponse) -> web.Response:
    return web.Response(
        status=stored.status,
        body=stored.body,
        headers={"Content-Type": stored.content_type, "Idempotent-Replayed": "true"},
    )


async def _release(store: IdempotencyStore, claim: IdempotencyClaim) -> None:
    """Free the key of a request that failed. Shielded, so a cancelled request still frees it; a failure
    here is only logged, since the lease expiry frees the key anyway and the original error matters more."""
    try:
        await asyncio.shield(store.release(claim))
    except Exception:
        log.warning("idempotency key not released; it frees itself when its lease ends", exc_info=True)
