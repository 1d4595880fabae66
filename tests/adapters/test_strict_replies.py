"""Every malformed reply is a PartyProtocolError naming what was wrong: JSON nested too deep, a SOAP reply
with the wrong element, an impossible date, a number that is not one."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.banks.soap_esb import EsbSoapBank
from adapters.banks.soap_retcode import RetCodeSoapBank
from gateway.errors import PartyProtocolError
from sandbox.faults import Fault, FaultKind
from tests.adapters.conftest import Harness, Launch
from tests.adapters.test_contract import PARTIES, SOAP_BANKS, failure

REST_PARTIES = [code for code in PARTIES if code not in SOAP_BANKS]


@pytest.mark.parametrize("code", REST_PARTIES)
@pytest.mark.parametrize("depth", [65, 100_000])
async def test_json_nested_beyond_64_levels_is_a_protocol_error(
    launch: Launch, code: str, depth: int
) -> None:
    # Was: RecursionError (at 100,000 levels) out of json.loads, past every error mapping.
    harness = await launch(code)
    harness.server.faults.add(Fault(FaultKind.DEEP_JSON, depth=depth))
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "json_too_deep", error
    assert "64" in error.message_en and "64" in error.message_zh
    assert harness.server.requests_received == 1  # not retried: the party broke its contract


@pytest.mark.parametrize("code", REST_PARTIES)
async def test_json_64_levels_deep_is_parsed_and_judged_by_its_content(launch: Launch, code: str) -> None:
    harness = await launch(code)
    harness.server.faults.add(Fault(FaultKind.DEEP_JSON, depth=64))
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "bad_response", error


# Per SOAP wire format: the contract check's response element, another operation's, a date and an amount.
SOAP_REPLIES = {
    RetCodeSoapBank: (
        "QueryLoanContractResponse",
        "QueryLoanSettlementResponse",
        "LoanStartDate",
        "ApprovedAmount",
    ),
    EsbSoapBank: ("verifyMortgageContractResponse", "checkLoanClearanceResponse", "beginDate", "loanSum"),
}


def soap_shape(harness: Harness) -> tuple[str, str, str, str]:
    return next(shape for cls, shape in SOAP_REPLIES.items() if isinstance(harness.adapter, cls))


def namespace_of(harness: Harness) -> str:
    return str(harness.adapter.client._binding).partition("}")[0].lstrip("{")


async def tampered(harness: Harness, **change: Any) -> PartyProtocolError:
    texts = tuple(change.pop("texts", {}).items())
    harness.server.faults.add(Fault(FaultKind.TAMPERED, texts=texts, **change))
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError), error
    assert harness.server.requests_received == 1  # not retried: the party broke its contract
    return error


@pytest.mark.parametrize("code", SOAP_BANKS)
async def test_another_operations_response_is_not_a_contract_confirmation(launch: Launch, code: str) -> None:
    # Was: a QueryLoanSettlementResponse (same fields, RetCode 0000) accepted as the contract's confirmation.
    harness = await launch(code)
    expected, other, _, _ = soap_shape(harness)
    error = await tampered(harness, element=other)
    assert error.party_code == "bad_xml"
    assert other in error.party_message and expected in error.party_message, error.party_message


@pytest.mark.parametrize("code", SOAP_BANKS)
async def test_a_reply_in_another_namespace_is_refused(launch: Launch, code: str) -> None:
    harness = await launch(code)
    v2 = namespace_of(harness).replace("/v1", "/v2") + ("/v2" if "/v1" not in namespace_of(harness) else "")
    error = await tampered(harness, namespace=v2)
    assert error.party_code == "bad_xml"
    assert v2 in error.party_message, error.party_message


@pytest.mark.parametrize("code", SOAP_BANKS)
@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "tomorrow"])
async def test_an_impossible_date_is_refused_naming_the_field(launch: Launch, code: str, text: str) -> None:
    # Was: 2026-02-30 read as None by zeep, and the confirmation accepted without its start date.
    harness = await launch(code)
    _, _, date_field, _ = soap_shape(harness)
    error = await tampered(harness, texts={date_field: text})
    assert error.party_code == "bad_xml"
    assert date_field in error.party_message and text in error.party_message, error.party_message


@pytest.mark.parametrize("code", SOAP_BANKS)
@pytest.mark.parametrize("text", ["一百万", "1,200,000.00", "NaN", ""])
async def test_an_amount_that_is_not_a_decimal_is_refused_naming_the_field(
    launch: Launch, code: str, text: str
) -> None:
    # Was: decimal.InvalidOperation out of zeep, past every error mapping.
    harness = await launch(code)
    _, _, _, amount_field = soap_shape(harness)
    error = await tampered(harness, texts={amount_field: text})
    assert error.party_code == "bad_xml"
    assert amount_field in error.party_message, error.party_message
