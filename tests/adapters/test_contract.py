"""The contract suite: every configured adapter against its simulator over loopback.

Each operation, each error class, timeouts, and signatures checked both ways. Parametrized over one configured
bank per adapter class (so every wire format and bank module) and the tax bureau; the last test runs all 17
configured bank entries once. Tax-only operations are in test_tax_adapter.py.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import build_adapters
from gateway.errors import PartyError, PartyProtocolError, PartyRejected, PartyUnavailable
from gateway.ports import (
    CaseEvent,
    CaseNotification,
    IssuedCertificate,
    LoanReleaseNotice,
    SettlementCheck,
)
from sandbox.faults import FaultKind
from sandbox.parties import start_parties
from tests.adapters.conftest import (
    AMOUNT,
    LOAN,
    MORTGAGE,
    UNIT,
    Harness,
    Launch,
    bank_ledger,
    configured_banks,
    contract_check,
    one_bank_per_adapter_class,
    seed_contract,
)

BANKS = one_bank_per_adapter_class()
PARTIES = [*BANKS, "tax"]
SOAP_BANKS = [code for code in BANKS if "soap" in configured_banks()[code]["adapter"] or code == "dgrcb"]

# Each party's own codes, as its documentation would list them.
OWN_CODES: dict[str, dict[str, str]] = {
    "adapters.banks.soap_retcode:RetCodeSoapBank": {
        "amount": "E105",
        "not_found": "E101",
        "outstanding": "E201",
        "busy": "9999",
        "busy_fault": "Server.Busy",
    },
    "adapters.banks.soap_esb:EsbSoapBank": {
        "amount": "EMG0105",
        "not_found": "EMG0101",
        "outstanding": "EMG0201",
        "busy": "SYS0001",
        "busy_fault": "Receiver",
    },
    "adapters.banks.rest_envelope:EnvelopeRestBank": {
        "amount": "1005",
        "not_found": "1001",
        "outstanding": "2001",
        "busy": "9001",
    },
    "adapters.banks.rest_resource:ResourceRestBank": {
        "amount": "principal_mismatch",
        "not_found": "contract_not_found",
        "outstanding": "settled=false",
        "busy": "http_503",
    },
    "adapters.tax.etax:EtaxBureau": {"busy": "999"},
}
OWN_CODES["adapters.banks.dgrcb:DgrcbAdapter"] = OWN_CODES["adapters.banks.soap_esb:EsbSoapBank"]

CERTIFICATE = IssuedCertificate(
    number="粤（2026）东莞市不动产证明第0000001号", file=b"%PDF-1.7\n" + bytes(range(256)) * 40
)
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def own(harness: Harness, what: str) -> str:
    return OWN_CODES[harness.adapter_path][what]


def notification(event: CaseEvent, delivery_id: str = "dlv-0001") -> CaseNotification:
    return CaseNotification(
        delivery_id=delivery_id,
        case_id="case-1",
        event=event,
        occurred_at=NOW,
        unit_code=UNIT,
        reason_zh="缺少抵押合同原件" if event is CaseEvent.NEED_MORE_MATERIAL else "",
        certificate=CERTIFICATE if event is CaseEvent.CERTIFICATE_ISSUED else None,
    )


def carries(data: Any, wanted: bytes) -> bool:
    """Whether a simulator's stored delivery holds `wanted` somewhere (each wire format nests it its way)."""
    if isinstance(data, dict):
        return any(carries(value, wanted) for value in data.values())
    return data == wanted


async def failure(harness: Harness) -> PartyError:
    with pytest.raises(PartyError) as caught:
        await harness.probe()
    assert caught.value.party == harness.code
    return caught.value


# --- bank operations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", BANKS)
async def test_confirm_contracts_returns_the_banks_record(launch: Launch, code: str) -> None:
    harness = await launch(code)
    confirmation = await harness.adapter.confirm_contracts(contract_check())
    assert confirmation.loan_contract_number == LOAN and confirmation.mortgage_contract_number == MORTGAGE
    assert confirmation.amount == AMOUNT
    assert (confirmation.term_start, confirmation.term_end) == (date(2026, 3, 1), date(2056, 2, 28))
    assert confirmation.bank_reference


@pytest.mark.parametrize("code", BANKS)
@pytest.mark.parametrize(
    ("change", "problem"),
    [({"amount": Decimal("1100000.00")}, "amount"), ({"loan_contract_number": "NO-SUCH-LOAN"}, "not_found")],
)
async def test_a_refusal_carries_the_banks_own_code(
    launch: Launch, code: str, change: dict[str, Any], problem: str
) -> None:
    harness = await launch(code)
    with pytest.raises(PartyRejected) as refused:
        await harness.adapter.confirm_contracts(contract_check(**change))
    assert refused.value.party == code
    assert refused.value.party_code == own(harness, problem)
    assert harness.server.requests_received == 1  # a refusal is an answer: never retried


@pytest.mark.parametrize("code", BANKS)
@pytest.mark.parametrize("event", list(CaseEvent))
async def test_every_case_event_reaches_the_bank(launch: Launch, code: str, event: CaseEvent) -> None:
    harness = await launch(code)
    receipt = await harness.adapter.notify(notification(event))
    assert receipt.delivery_id == "dlv-0001" and not receipt.duplicate
    [delivery] = bank_ledger(harness).received("notification")
    assert delivery.delivery_id == "dlv-0001"
    if event is CaseEvent.CERTIFICATE_ISSUED:  # the file arrived byte for byte (the bank checked its SM3)
        assert carries(delivery.data, CERTIFICATE.file)


@pytest.mark.parametrize("code", BANKS)
async def test_a_redelivered_notification_is_applied_once(launch: Launch, code: str) -> None:
    harness = await launch(code)
    first = await harness.adapter.notify(notification(CaseEvent.REGISTERED))
    again = await harness.adapter.notify(notification(CaseEvent.REGISTERED))
    other = await harness.adapter.notify(notification(CaseEvent.REGISTERED, delivery_id="dlv-0002"))
    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, False)
    ledger = bank_ledger(harness)
    assert (ledger.effects_applied, ledger.duplicates_ignored) == (2, 1)


@pytest.mark.parametrize("code", BANKS)
async def test_the_loan_release_notice_is_delivered_once(launch: Launch, code: str) -> None:
    harness = await launch(code)
    notice = LoanReleaseNotice(
        delivery_id="rel-0001",
        case_id="case-1",
        unit_code=UNIT,
        loan_contract_number=LOAN,
        registered_at=NOW,
        proof_number="粤（2026）东莞市不动产证明第0000001号",
    )
    assert not (await harness.adapter.release_loan(notice)).duplicate
    assert (await harness.adapter.release_loan(notice)).duplicate
    [release] = bank_ledger(harness).received("loan_release")
    assert release.delivery_id == "rel-0001" and release.times_received == 2


@pytest.mark.parametrize("code", BANKS)
async def test_a_settled_loan_is_confirmed_and_an_outstanding_one_refused(launch: Launch, code: str) -> None:
    harness = await launch(code)
    check = SettlementCheck(
        case_id="case-2", unit_code=UNIT, loan_contract_number=LOAN, mortgage_contract_number=MORTGAGE
    )
    with pytest.raises(PartyRejected) as refused:
        await harness.adapter.confirm_settlement(check)
    assert refused.value.party_code == own(harness, "outstanding")
    bank_ledger(harness).contracts.clear()
    seed_contract(harness.server, settled_on=date(2026, 2, 27))  # type: ignore[arg-type]
    confirmation = await harness.adapter.confirm_settlement(check)
    assert (confirmation.loan_contract_number, confirmation.settled_on) == (LOAN, date(2026, 2, 27))


@pytest.mark.parametrize("code", SOAP_BANKS)
async def test_soap_faults_unmapped_are_protocol_errors_and_busy_ones_unavailable(
    launch: Launch, code: str
) -> None:
    harness = await launch(code, retry_attempts=1)
    harness.server.faults.soap_fault("Mystery")
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "fault:soap:Mystery"
    harness.server.faults.soap_fault(own(harness, "busy_fault"))
    assert isinstance(await failure(harness), PartyUnavailable)


async def test_the_dgrcb_module_sends_its_branch_number(launch: Launch) -> None:
    harness = await launch("dgrcb")
    assert (await harness.probe()) is not None
    wrong = await launch("dgrcb", branch_no="441900999")
    with pytest.raises(PartyRejected) as refused:
        await wrong.probe()
    assert refused.value.party_code == "EHD0001"


# --- error classes, for every party ------------------------------------------------------------------


@pytest.mark.parametrize("code", PARTIES)
async def test_a_5xx_is_retried_for_an_idempotent_call(launch: Launch, code: str) -> None:
    harness = await launch(code)
    harness.server.faults.fail(times=1, status=502)
    assert await harness.probe() is not None
    assert harness.server.requests_received == 2


@pytest.mark.parametrize("code", PARTIES)
async def test_a_lasting_5xx_is_party_unavailable(launch: Launch, code: str) -> None:
    harness = await launch(code, retry_attempts=3)
    harness.server.faults.fail(times=3, status=503)
    error = await failure(harness)
    assert isinstance(error, PartyUnavailable) and error.party_code == "http_503"
    assert harness.server.requests_received == 3


@pytest.mark.parametrize("code", PARTIES)
async def test_429_surfaces_retry_after_instead_of_waiting(launch: Launch, code: str) -> None:
    harness = await launch(code)
    harness.server.faults.rate_limit(retry_after=30)
    started = time.monotonic()
    error = await failure(harness)
    assert isinstance(error, PartyUnavailable) and error.retry_after == 30
    assert time.monotonic() - started < 1.0 and harness.server.requests_received == 1


@pytest.mark.parametrize("code", PARTIES)
async def test_the_partys_own_busy_code_means_try_later(launch: Launch, code: str) -> None:
    harness = await launch(code, retry_attempts=2)
    harness.server.faults.then(FaultKind.BUSY, times=2)
    error = await failure(harness)
    assert isinstance(error, PartyUnavailable) and error.party_code == own(harness, "busy")
    harness.server.faults.then(FaultKind.BUSY, times=1)
    assert await harness.probe() is not None  # busy once, then answered on the retry


@pytest.mark.parametrize("code", PARTIES)
async def test_a_party_that_is_down_is_unavailable(launch: Launch, code: str) -> None:
    harness = await launch(code)
    await harness.server.stop()
    error = await failure(harness)
    assert isinstance(error, PartyUnavailable) and error.party_code == "connect"
    await harness.server.start()  # back on the same port: the next call goes through
    assert await harness.probe() is not None


@pytest.mark.parametrize("code", PARTIES)
async def test_a_dropped_connection_is_retried(launch: Launch, code: str) -> None:
    harness = await launch(code)
    harness.server.faults.then(FaultKind.DISCONNECT)
    assert await harness.probe() is not None
    assert harness.server.requests_received == 2


@pytest.mark.parametrize("code", PARTIES)
async def test_a_hung_party_times_out_on_time(launch: Launch, code: str) -> None:
    harness = await launch(code, timeout_seconds=0.3)
    harness.server.faults.hang(seconds=10)
    started = time.monotonic()
    error = await failure(harness)
    elapsed = time.monotonic() - started
    assert isinstance(error, PartyUnavailable) and error.party_code == "timeout"
    assert 0.25 <= elapsed < 0.9  # the budget, and no retry after it was spent
    assert harness.server.requests_received == 1


async def test_latency_within_the_budget_is_waited_for_and_beyond_it_times_out(launch: Launch) -> None:
    harness = await launch("cmb-dg", timeout_seconds=0.3)
    harness.server.faults.latency = 0.15
    started = time.monotonic()
    assert await harness.probe() is not None
    assert time.monotonic() - started >= 0.15
    harness.server.faults.latency = 0.45
    error = await failure(harness)
    assert isinstance(error, PartyUnavailable) and error.party_code == "timeout"


@pytest.mark.parametrize("code", PARTIES)
async def test_a_malformed_reply_is_a_protocol_error(launch: Launch, code: str) -> None:
    harness = await launch(code)
    harness.server.faults.then(FaultKind.MALFORMED)
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError)
    assert error.party_code == ("bad_xml" if harness.soap else "bad_response")


@pytest.mark.parametrize("code", PARTIES)
@pytest.mark.parametrize("kind", [FaultKind.WRONG_KEY, FaultKind.UNSIGNED])
async def test_a_reply_not_signed_by_the_party_is_refused(launch: Launch, code: str, kind: FaultKind) -> None:
    harness = await launch(code)
    harness.server.faults.then(kind)
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "bad_signature"
    assert harness.server.requests_received == 1  # not retried: the party broke its contract


@pytest.mark.parametrize("code", PARTIES)
async def test_the_party_refuses_a_request_signed_by_a_key_it_does_not_trust(
    launch: Launch, code: str, ca: certs.CertificateAuthority
) -> None:
    impostor = AdapterContext(GatewayIdentity(certs.SM2PrivateKey.generate()), ca)
    harness = await launch(code, context_=impostor)
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "http_401"
    assert harness.server.requests_refused == 1


@pytest.mark.parametrize("code", PARTIES)
async def test_an_oversized_reply_is_refused(launch: Launch, code: str) -> None:
    harness = await launch(code, max_response_bytes=256 * 1024)
    harness.server.faults.then(FaultKind.OVERSIZED)
    error = await failure(harness)
    assert isinstance(error, PartyProtocolError) and error.party_code == "response_too_large"


@pytest.mark.parametrize("code", PARTIES)
@pytest.mark.parametrize("kind", [FaultKind.BILLION_LAUGHS, FaultKind.EXTERNAL_ENTITY])
async def test_hostile_xml_is_refused_within_one_second(launch: Launch, code: str, kind: FaultKind) -> None:
    harness = await launch(code)
    harness.server.faults.then(kind)  # signed with the party's real key: only the XML guard stands
    started = time.monotonic()
    error = await failure(harness)
    assert time.monotonic() - started < 1.0
    assert isinstance(error, PartyProtocolError)
    assert error.party_code == ("hostile_xml" if harness.soap else "bad_response")
    assert "root:" not in f"{error.message_en} {error.message_zh} {error.party_message}"


# --- all configured entries --------------------------------------------------------------------------


async def test_every_configured_bank_starts_and_confirms_against_its_simulator(
    ca: certs.CertificateAuthority, gateway_certificate: certs.Certificate, context: AdapterContext
) -> None:
    configured = configured_banks()
    parties = await start_parties(ca, gateway_certificate, banks=configured, tax=False)
    try:
        entries = {}
        for code, entry in configured.items():
            # The sample's own settings, with the simulator's address and certificate in place of the
            # placeholder endpoint and certificate file.
            sample = {key: value for key, value in entry.items() if key != "certificate_file"}
            entries[code] = sample | parties.bank_entry(code)
            seed_contract(parties.banks[code])
        async with build_adapters(entries, None, context) as adapters:
            assert set(adapters.banks) == set(configured) and len(configured) == 17
            for code in configured:
                confirmation = await adapters.bank(code).confirm_contracts(contract_check())
                assert confirmation.amount == AMOUNT, code
    finally:
        await parties.stop()
