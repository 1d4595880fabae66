"""map_party_errors: each failure a party's transport can raise lands on the right branch of the tree."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest
import zeep.exceptions

from adapters.errors import ResponseTooLarge, UnexpectedStatus, map_party_errors, parse_retry_after
from gateway.errors import (
    BadSignature,
    PartyError,
    PartyProtocolError,
    PartyRejected,
    PartyUnavailable,
)


def mapped(exc: BaseException) -> PartyError:
    with pytest.raises(PartyError) as caught, map_party_errors("icbc-dg"):
        raise exc
    assert caught.value.party == "icbc-dg"
    return caught.value


@pytest.mark.parametrize(
    ("raised", "error", "code"),
    [
        (TimeoutError(), PartyUnavailable, "timeout"),
        (aiohttp.ServerTimeoutError("read"), PartyUnavailable, "timeout"),
        (aiohttp.ServerDisconnectedError(), PartyUnavailable, "connect"),
        (UnexpectedStatus(503), PartyUnavailable, "http_503"),
        (UnexpectedStatus(500), PartyUnavailable, "http_500"),
        (UnexpectedStatus(302), PartyProtocolError, "http_302"),
        (UnexpectedStatus(401), PartyProtocolError, "http_401"),
        (ResponseTooLarge(1024), PartyProtocolError, "response_too_large"),
        (BadSignature("no"), PartyProtocolError, "bad_signature"),
        (zeep.exceptions.DTDForbidden("lolz", None, None), PartyProtocolError, "hostile_xml"),
        (zeep.exceptions.EntitiesForbidden("xxe", "file:///etc/passwd"), PartyProtocolError, "hostile_xml"),
        (zeep.exceptions.Fault("boom", code="soap:Server"), PartyProtocolError, "fault:soap:Server"),
        (zeep.exceptions.XMLSyntaxError("bad"), PartyProtocolError, "bad_xml"),
        (json.JSONDecodeError("not json", "", 0), PartyProtocolError, "bad_response"),
    ],
)
def test_each_failure_maps_to_its_class_and_code(raised: BaseException, error: type, code: str) -> None:
    result = mapped(raised)
    assert type(result) is error
    assert result.party_code == code
    assert result.__cause__ is raised


def test_retry_after_is_carried_on_429() -> None:
    result = mapped(UnexpectedStatus(429, retry_after=12.0))
    assert isinstance(result, PartyUnavailable) and result.retry_after == 12.0


def test_the_adapters_own_refusals_pass_through_untouched() -> None:
    refusal = PartyRejected("icbc-dg", "E105", "贷款金额不符")
    assert mapped(refusal) is refusal


def test_a_fault_hook_gives_a_fault_its_meaning() -> None:
    def hook(code: str, message: str) -> PartyError | None:
        return PartyUnavailable("icbc-dg", code, message) if code.endswith("Server.Busy") else None

    with pytest.raises(PartyUnavailable), map_party_errors("icbc-dg", hook):
        raise zeep.exceptions.Fault("busy", code="soap:Server.Busy")
    with pytest.raises(PartyProtocolError), map_party_errors("icbc-dg", hook):
        raise zeep.exceptions.Fault("boom", code="soap:Client")


def test_hostile_content_never_reaches_the_message() -> None:
    result = mapped(zeep.exceptions.EntitiesForbidden("xxe", "root:x:0:0:root:/root:/bin/bash"))
    assert "root:" not in result.message_en and "root:" not in result.message_zh


def test_programming_errors_are_not_disguised_as_party_errors() -> None:
    with pytest.raises(KeyError), map_party_errors("icbc-dg"):
        raise KeyError("bug")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("Thu, 01 Jan 2026 00:01:00 GMT", 60.0), ("soon", None), ("", None)],
)
def test_retry_after_seconds_or_http_date(header: str, seconds: float | None) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": header} if header else {}, now=now) == seconds
