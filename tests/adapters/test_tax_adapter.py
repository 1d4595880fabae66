"""The tax adapter's own operations against the simulated bureau: assessment, payments, clearance, callback.

Its error classes, timeouts and signatures are covered with every other party in test_contract.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters.tax import rules
from gateway.errors import PartyProtocolError, PartyRejected, PartyUnavailable
from gateway.ports import TaxKind, TaxPayment, TransactionKind
from tests.adapters.conftest import Launch, tax_server, transfer_request

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


async def test_the_assessment_follows_the_rules_in_force(launch: Launch) -> None:
    harness = await launch("tax")
    request = transfer_request()
    assessment = await harness.adapter.assess(request)
    expected = {line.kind: line for line in rules.assess_transfer(request)}
    assert {line.kind: line for line in assessment.lines} == expected
    assert assessment.line(TaxKind.DEED_TAX).amount == Decimal("40000.00")
    assert assessment.total == Decimal("166000.00") and assessment.case_id == "case-9"
    assert assessment.line(TaxKind.URBAN_MAINTENANCE_TAX).amount == Decimal("3500.00")
    assert assessment.assessment_id in tax_server(harness).assessments


async def test_a_new_home_is_declared_as_such_and_assessed_for_the_deed_tax_only(launch: Launch) -> None:
    harness = await launch("tax")
    request = transfer_request(
        transaction=TransactionKind.NEW_HOME, seller_acquired_on=None, price=Decimal("2180000.00")
    )
    assessment = await harness.adapter.assess(request)
    [line] = assessment.lines
    assert line.kind is TaxKind.DEED_TAX and line.base == Decimal("2000000.00")  # 2180000 / 1.09
    filed = tax_server(harness).assessments[assessment.assessment_id].request
    assert filed.transaction is TransactionKind.NEW_HOME and filed.seller_acquired_on is None


async def test_the_bureau_refuses_a_contract_no_rule_covers(launch: Launch) -> None:
    harness = await launch("tax")
    request = transfer_request(contract_date=date(2015, 6, 1), seller_acquired_on=date(2014, 1, 1))
    with pytest.raises(PartyRejected) as refused:
        await harness.adapter.assess(request)
    assert refused.value.party_code == "E101"
    assert harness.server.requests_received == 1


async def test_payments_clear_the_assessment_once_whatever_is_resent(launch: Launch) -> None:
    harness = await launch("tax")
    assessment = await harness.adapter.assess(transfer_request())

    def payment(reference: str, amount: str) -> TaxPayment:
        return TaxPayment(
            assessment_id=assessment.assessment_id,
            payment_reference=reference,
            amount=Decimal(amount),
            paid_at=NOW,
        )

    partial = await harness.adapter.confirm_payment(payment("BANK-0001", "60000.00"))
    assert (partial.cleared, partial.paid, partial.outstanding) == (
        False,
        Decimal("60000.00"),
        Decimal("106000.00"),
    )
    resent = await harness.adapter.confirm_payment(payment("BANK-0001", "60000.00"))
    assert resent.paid == Decimal("60000.00")  # the same payment reference counts once
    cleared = await harness.adapter.confirm_payment(payment("BANK-0002", "106000.00"))
    assert cleared.cleared and cleared.outstanding == 0 and cleared.voucher_number and cleared.cleared_at
    assert await harness.adapter.clearance(assessment.assessment_id) == cleared


async def test_an_unknown_assessment_is_refused(launch: Launch) -> None:
    harness = await launch("tax")
    with pytest.raises(PartyRejected) as refused:
        await harness.adapter.clearance("SB-DOES-NOT-EXIST")
    assert refused.value.party_code == "E404"


async def test_an_assessment_is_not_retried_in_call(launch: Launch) -> None:
    harness = await launch("tax")
    harness.server.faults.fail(times=1)
    with pytest.raises(PartyUnavailable):
        await harness.adapter.assess(transfer_request())
    assert harness.server.requests_received == 1  # not idempotent: the outbox decides


async def test_the_payment_cleared_callback_is_read_into_the_port_dto(launch: Launch) -> None:
    harness = await launch("tax")
    server = tax_server(harness)
    record = server.file_assessment(transfer_request(case_id="case-42"))
    server.pay_at_counter(record.assessment_id)
    body = server.callback_body(record.assessment_id)
    cleared = harness.adapter.parse_payment_callback(body)
    assert cleared.delivery_id == f"wscb-{record.assessment_id}" and cleared.case_id == "case-42"
    assert cleared.paid == record.total and cleared.voucher_number == record.voucher_number
    with pytest.raises(PartyProtocolError):
        harness.adapter.parse_payment_callback(body[:-5])
