"""RFC 9457 problem+json: the one error middleware that turns the error tree into responses."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.api.keys import API, REQUEST_ID
from gateway.api.refusals import audit_refusal, is_audited_refusal
from gateway.db.outages import is_outage
from gateway.errors import (
    FieldReason,
    GatewayError,
    InputError,
    RuleViolation,
    ServiceUnavailable,
    TooManyRequests,
)
from gateway.logging import get_logger

__all__ = ["PROBLEM_CONTENT_TYPE", "TITLES", "errors_middleware", "problem_response"]

log = get_logger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"

# code → (title in Chinese, title in English); documented on /docs under #problem-<code>.
TITLES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求格式错误", "Bad request"),
    "idempotency_key_missing": ("缺少幂等键", "Idempotency-Key required"),
    "idempotency_key_reused": ("幂等键已用于其他请求", "Idempotency-Key reused with another request"),
    "idempotency_key_in_flight": (
        "相同幂等键的请求正在处理",
        "Request with this Idempotency-Key in progress",
    ),
    "login_required": ("需要登录", "Sign-in required"),
    "unauthenticated": ("请求签名验证失败", "Request not authenticated"),
    "unknown_participant": ("未知的参与方", "Unknown participant"),
    "certificate_revoked": ("证书已吊销", "Certificate revoked"),
    "certificate_expired": ("证书已过期或尚未生效", "Certificate expired or not yet valid"),
    "invalid_signature": ("签名无效", "Invalid signature"),
    "stale_timestamp": ("请求时间戳超出允许范围", "Timestamp outside the allowed window"),
    "replayed_nonce": ("随机数已被使用（重放）", "Nonce already used (replay)"),
    "forbidden": ("无权执行此操作", "Forbidden"),
    "not_found": ("资源不存在", "Not found"),
    "method_not_allowed": ("不支持此请求方法", "Method not allowed"),
    "conflict": ("状态冲突", "Conflict"),
    "rule_violation": ("未通过登记规则校验", "Registration rule violated"),
    "payload_too_large": ("请求体过大", "Payload too large"),
    "too_many_requests": ("请求过于频繁，请稍后再试", "Too many requests"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "invalid_input": ("输入有误", "Invalid input"),
    "party_error": ("外部机构处理失败", "Outside party failed"),
    "party_unavailable": ("外部机构暂不可用", "Outside party unavailable"),
    "party_rejected": ("外部机构拒绝", "Outside party refused"),
    "party_protocol_error": ("外部机构应答格式错误", "Outside party broke its protocol"),
    "service_unavailable": (
        "服务暂不可用，请稍后用相同幂等键重试",
        "Service unavailable: retry with the same key",
    ),
    "request_timeout": ("请求处理超时", "Request timed out"),
    "internal_error": ("服务器内部错误", "Internal server error"),
}
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}
_HTTP_CODES |= {405: "method_not_allowed", 409: "conflict", 413: "payload_too_large"}
_HTTP_CODES |= {415: "unsupported_media_type", 422: "invalid_input", 503: "service_unavailable"}

# pydantic error type → Chinese reason, for errors that carry no reason_zh of their own.
_PYDANTIC_ZH = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为字符串",
    "string_too_short": "字符串过短",
    "string_too_long": "字符串过长",
    "string_pattern_mismatch": "格式不符合要求",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "decimal_parsing": "应为数字（金额）",
    "decimal_max_places": "小数位数过多",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "bool_parsing": "应为布尔值",
    "enum": "不在允许的取值范围内",
    "literal_error": "不在允许的取值范围内",
    "date_from_datetime_parsing": "应为日期",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为日期时间（ISO 8601）",
    "json_invalid": "请求体不是有效的 JSON",
    "model_type": "应为对象",
    "list_type": "应为数组",
    "too_short": "元素过少",
    "too_long": "元素过多",
    "value_error": "取值无效",
}


def problem_response(
    request: web.Request,
    *,
    status: int,
    code: str,
    detail_en: str,
    detail_zh: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    title_zh, title_en = TITLES.get(
        code, TITLES["internal_error"] if status >= 500 else ("请求失败", "Failed")
    )
    body: dict[str, Any] = {
        "type": f"/docs#problem-{code}",
        "title": f"{title_zh} / {title_en}",
        "status": status,
        "detail": detail_en,
        "detail_zh": detail_zh,
        "instance": request.path,
        "code": code,
        "request_id": request.get(REQUEST_ID, ""),
    }
    body.update(extra or {})
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"Content-Type": PROBLEM_CONTENT_TYPE, **(headers or {})},
    )


def _from_gateway_error(request: web.Request, exc: GatewayError) -> web.Response:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InputError) and exc.errors:
        extra["errors"] = [
            {"field": e.field, "reason_zh": e.reason_zh, "reason_en": e.reason_en} for e in exc.errors
        ]
    if isinstance(exc, RuleViolation):
        extra["rules"] = [{"name": n, "reason_zh": zh, "reason_en": en} for n, zh, en in exc.failures]
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = (
            'Bearer realm="backoffice"' if exc.code == "login_required" else "GW-SM2"
        )
    if exc.http_status == 503:
        headers["Retry-After"] = "1"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(
        request,
        status=exc.http_status,
        code=exc.code,
        detail_en=exc.message_en,
        detail_zh=exc.message_zh,
        extra=extra,
        headers=headers,
    )


def validation_reasons(exc: ValidationError) -> list[FieldReason]:
    """Each pydantic error as a field-level reason in both languages (field: the dotted location)."""
    reasons = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        field = ".".join(str(part) for part in err["loc"])
        reason_en = str(ctx.get("reason_en") or err["msg"])
        reason_zh = str(ctx.get("reason_zh") or _PYDANTIC_ZH.get(err["type"], f"取值无效：{err['msg']}"))
        reasons.append(FieldReason(field, reason_zh, reason_en))
    return reasons


def _from_validation_error(request: web.Request, exc: ValidationError) -> web.Response:
    errors = [
        {"field": r.field, "reason_zh": r.reason_zh, "reason_en": r.reason_en}
        for r in validation_reasons(exc)
    ]
    return problem_response(
        request,
        status=422,
        code="invalid_input",
        detail_en=f"{len(errors)} field(s) are invalid",
        detail_zh=f"{len(errors)} 个字段有误",
        extra={"errors": errors},
    )


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = _HTTP_CODES.get(exc.status, "internal_error" if exc.status >= 500 else "bad_request")
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    zh, en = TITLES.get(code, ("请求失败", exc.reason))
    return problem_response(
        request, status=exc.status, code=code, detail_en=en, detail_zh=zh, headers=headers
    )


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The only broad catch of the HTTP layer. Also bounds every request's time."""
    timeout = request.app[API].settings.request_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            response: web.StreamResponse = await handler(request)
            return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(request, exc)
    except GatewayError as exc:
        if is_audited_refusal(exc):
            await audit_refusal(request, exc)
        return _from_gateway_error(request, exc)
    except ValidationError as exc:
        return _from_validation_error(request, exc)
    except TimeoutError:
        log.warning("request timed out", timeout_seconds=timeout)
        return problem_response(
            request,
            status=503,
            code="request_timeout",
            detail_en=f"the request took longer than {timeout:g} s and was abandoned; retry with the same key",
            detail_zh=f"请求处理超过 {timeout:g} 秒已中止，请使用相同幂等键重试",
            headers={"Retry-After": "1"},
        )
    except Exception as exc:
        if is_outage(exc):
            # The database or Redis is restarting or unreachable (gateway.db.outages names every form):
            # the client may retry with the same Idempotency-Key, so 503 with Retry-After, never 500.
            log.error("dependency unavailable", error=type(exc).__name__)
            return _from_gateway_error(
                request,
                ServiceUnavailable(
                    "a dependency is unavailable; retry shortly", "依赖服务暂不可用，请稍后重试"
                ),
            )
        # Internals stay in the log (under the request id the client sees), never in the response.
        log.exception("unhandled error")
        return problem_response(
            request,
            status=500,
            code="internal_error",
            detail_en="an internal error occurred; quote the request_id when reporting it",
            detail_zh="服务器内部错误；报告时请提供 request_id",
        )
