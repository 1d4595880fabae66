"""Every malformed reply is a PartyProtocolError naming what was wrong: JSON nested too deep, a SOAP reply
with the wrong element, an impossible date, a number that is not one."""

from __future__ import annotations

import pytest

from gateway.errors import PartyProtocolError
from sandbox.faults import Fault, FaultKind
from tests.adapters.conftest import Launch
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
