"""Problem+json for requests refused before routing: HTTP that aiohttp cannot parse (a request line or header
over 8 KiB, bad bytes), and errors raised outside the error middleware.

aiohttp answers those from `RequestHandler.handle_error` with a text/plain body that echoes the start of the
offending line, and no middleware or signal sees them (the request never reached the application). It offers
no setting for that response, so `install` wraps the method once, for the gateway's applications only: the
simulated parties and any other aiohttp server in the process keep aiohttp's own answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web, web_protocol
from aiohttp.http_exceptions import LineTooLong

from gateway.api.keys import API
from gateway.api.problem import PROBLEM_CONTENT_TYPE, TITLES
from gateway.logging import get_logger

__all__ = ["install"]

log = get_logger("gateway.http")
_ORIGINAL: Callable[..., web.StreamResponse] = web_protocol.RequestHandler.handle_error
_MAX_LINE = 8190  # aiohttp's max_line_size and max_field_size, left at their defaults


def _serves_gateway(handler: web_protocol.RequestHandler) -> bool:
    manager = getattr(handler, "_manager", None)
    app = getattr(getattr(manager, "request_handler", None), "__self__", None)
    return isinstance(app, web.Application) and API in app


def _problem(status: int, exc: BaseException | None) -> web.Response:
    if status >= 500:
        code, en, zh = "internal_error", "an internal error occurred", "服务器内部错误"
    elif isinstance(exc, LineTooLong):
        code = "bad_request"
        en = f"the request line or a header is longer than {_MAX_LINE} bytes"
        zh = f"请求行或请求头超过 {_MAX_LINE} 字节"
    else:
        # Nothing of the request is echoed: its bytes are what could not be read.
        code, en, zh = "bad_request", "the request is not valid HTTP/1.1", "请求不是有效的 HTTP/1.1 报文"
    title_zh, title_en = TITLES[code]
    body = {
        "type": f"/docs#problem-{code}",
        "title": f"{title_zh} / {title_en}",
        "status": status,
        "detail": en,
        "detail_zh": zh,
        "instance": "",  # the path was not read (or not trusted)
        "code": code,
        "request_id": uuid.uuid4().hex,
    }
    response = web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"Content-Type": PROBLEM_CONTENT_TYPE},
    )
    response.force_close()  # as aiohttp does: the connection's framing cannot be trusted any more
    return response


def _handle_error(
    self: web_protocol.RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    if not _serves_gateway(self) or request.writer.output_size > 0:
        return _ORIGINAL(self, request, status, exc, message)
    if status >= 500:
        log.error("request failed before the application", exc_info=exc)
    else:
        log.info("malformed request refused", status=status, error=type(exc).__name__)
    return _problem(status, exc)


def install() -> None:
    """Answer malformed requests to gateway applications with problem+json (idempotent)."""
    handler_class: Any = web_protocol.RequestHandler
    handler_class.handle_error = _handle_error
