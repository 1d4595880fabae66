"""The port DTOs refuse what a party or the core must never send, and keep ID numbers out of logs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.ports import (
    CaseEvent,
    CaseNotification,
    ContractCheck,
    HomeCount,
    IssuedCertificate,
    Person,
    TransferAssessmentRequest,
)

BUYER = Person(name="张三", id_number="441900199001011234")


def test_id_number_never_appears_in_repr() -> None:
    check = ContractCheck(
        case_id="c1",
        unit_code="441900001001GB00001F00010001",
        loan_contract_number="L1",
        mortgage_contract_number="M1",
        borrower=BUYER,
        mortgagors=(BUYER,),
        amount=Decimal("1200000.00"),
    )
    assert "441900199001011234" not in repr(check)
    assert "张三" in repr(check)


def test_money_with_more_than_two_decimals_is_refused() -> None:
    with pytest.raises(ValidationError):
        ContractCheck(
            case_id="c1",
            unit_code="u",
            loan_contract_number="L1",
            mortgage_contract_number="M1",
            borrower=BUYER,
            mortgagors=(BUYER,),
            amount=Decimal("1.005"),
        )


def test_certificate_travels_only_with_the_certificate_event() -> None:
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    cert = IssuedCertificate(number="粤（2026）东莞市不动产证明第0000001号", file=b"%PDF-1.7")
    with pytest.raises(ValidationError):
        CaseNotification(
            delivery_id="d1", case_id="c1", event=CaseEvent.CERTIFICATE_ISSUED, occurred_at=at, unit_code="u"
        )
    with pytest.raises(ValidationError):
        CaseNotification(
            delivery_id="d1",
            case_id="c1",
            event=CaseEvent.REGISTERED,
            occurred_at=at,
            unit_code="u",
            certificate=cert,
        )
    ok = CaseNotification(
        delivery_id="d1",
        case_id="c1",
        event=CaseEvent.CERTIFICATE_ISSUED,
        occurred_at=at,
        unit_code="u",
        certificate=cert,
    )
    assert ok.certificate is not None and ok.certificate.file == b"%PDF-1.7"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValidationError):
        CaseNotification(
            delivery_id="d1",
            case_id="c1",
            event=CaseEvent.ACCEPTED,
            occurred_at=datetime(2026, 3, 2, 9, 0),
            unit_code="u",
        )


def test_seller_cannot_have_acquired_after_the_sale() -> None:
    with pytest.raises(ValidationError, match="seller_acquired_on"):
        TransferAssessmentRequest(
            case_id="c1",
            unit_code="u",
            contract_date=date(2025, 1, 1),
            price=Decimal("1000000.00"),
            area_m2=Decimal("89.50"),
            buyers=(BUYER,),
            sellers=(BUYER,),
            buyer_home_count=HomeCount.FIRST,
            seller_acquired_on=date(2025, 1, 2),
            seller_sole_home=True,
        )
