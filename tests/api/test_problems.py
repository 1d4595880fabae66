"""Errors as RFC 9457 problem+json: field-level reasons in Chinese and English, rules, 404, 413, 500."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.demo_routes import SLOW_GATE, routes
from tests.api.support import SignedClient

THINGS = "/api/v1/demo/things"
BAD_RESIDENT_ID = "44190019900101123X"  # a real shape with a wrong check character


@pytest.fixture
async def signed(serve: Any, bank: Any) -> SignedClient:
    return bank(await serve(routes))  # type: ignore[no-any-return]


def problem_of(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"/docs#problem-{code}"
    assert " / " in body["title"]  # 中文 / English
    assert body["request_id"] == reply.headers["X-Request-ID"]
    return body


async def test_input_error_has_field_level_reasons(signed: SignedClient) -> None:
    body = problem_of(await signed.post("/api/v1/demo/input", {}), 422, "invalid_input")
    assert body["errors"] == [
        {
            "field": "loan.amount",
            "reason_zh": "贷款金额超过合同金额",
            "reason_en": "loan amount exceeds the contract",
        }
    ]


async def test_pydantic_errors_are_field_level_in_both_languages(signed: SignedClient) -> None:
    reply = await signed.post(
        THINGS, {"name": "", "owner_id_number": BAD_RESIDENT_ID, "unit_code": "441900", "colour": "red"}
    )
    errors = {e["field"]: e for e in problem_of(reply, 422, "invalid_input")["errors"]}
    assert set(errors) == {"name", "owner_id_number", "unit_code", "colour"}
    # The identifier validators' own reasons come through in both languages.
    assert "校验码" in errors["owner_id_number"]["reason_zh"]
    assert "check character" in errors["owner_id_number"]["reason_en"]
    assert errors["colour"]["reason_zh"] == "不允许的字段"
    assert errors["name"]["reason_zh"] == "字符串过短"
    # The rejected ID number is not echoed back in the problem.
    assert BAD_RESIDENT_ID not in reply.body.decode()


async def test_malformed_json_is_a_422_not_a_500(signed: SignedClient) -> None:
    reply = await signed.post(THINGS, body=b'{"name": ')
    assert problem_of(reply, 422, "invalid_input")["errors"][0]["reason_zh"] == "请求体不是有效的 JSON"


async def test_rule_violation_names_the_rule(signed: SignedClient) -> None:
    body = problem_of(await signed.post("/api/v1/demo/rule", {}), 409, "rule_violation")
    assert body["rules"] == [
        {"name": "unit_not_seized", "reason_zh": "不动产单元已被查封", "reason_en": "the unit is seized"}
    ]


async def test_not_found(signed: SignedClient) -> None:
    problem_of(await signed.get("/api/v1/demo/things/abc"), 404, "not_found")


async def test_body_over_the_route_limit_is_413(signed: SignedClient) -> None:
    over_default = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    problem_of(await signed.post(THINGS, body=over_default), 413, "payload_too_large")
    # The upload route declares 2 MiB: 1.5 MiB passes there, 2.5 MiB does not.
    ok = await signed.post("/api/v1/demo/upload", body=b"%PDF" + b"0" * (3 * 512 * 1024))
    assert ok.status == 200 and ok.json()["bytes"] == 4 + 3 * 512 * 1024
    problem_of(
        await signed.post("/api/v1/demo/upload", body=b"0" * (5 * 512 * 1024)), 413, "payload_too_large"
    )


async def test_internal_error_hides_internals_and_logs_the_request_id(
    signed: SignedClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    body = problem_of(await signed.post("/api/v1/demo/crash", {}), 500, "internal_error")
    assert "secret" not in str(body) and "RuntimeError" not in str(body)
    logged = capsys.readouterr()
    assert body["request_id"] in logged.out + logged.err + caplog.text


async def test_request_timeout_is_a_retryable_503_that_frees_the_key(serve: Any, bank: Any) -> None:
    SLOW_GATE["gate"] = asyncio.Event()  # not set yet: the handler outlives the timeout
    signed = bank(await serve(routes, api={"request_timeout_seconds": 0.3}))
    reply = await signed.post("/api/v1/demo/slow", {}, idempotency_key="timed-out-key")
    assert problem_of(reply, 503, "request_timeout")
    assert reply.headers["Retry-After"] == "1"
    # The key was released: once the service is healthy the same key runs the request (not 409).
    SLOW_GATE["gate"].set()
    retry = await signed.post("/api/v1/demo/slow", {}, idempotency_key="timed-out-key")
    assert retry.status == 201
