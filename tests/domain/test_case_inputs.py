"""What a bank counter may submit: inputs are refused with field-level reasons in Chinese and English."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.domain.cases import CaseInput, TransferInput
from gateway.domain.parties import CoOwnership, Owner, Party
from gateway.domain.workflow import Case, CaseState
from gateway.errors import Conflict
from gateway.seed import LI_NA, LIU_YANG, WANG_QIANG
from tests.services import builders


def test_a_resident_id_with_a_wrong_check_digit_names_the_field_in_both_languages() -> None:
    wrong = LIU_YANG.id_number[:-1] + ("0" if LIU_YANG.id_number[-1] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        Party(name="刘洋", id_number=wrong)
    error = exc.value.errors()[0]
    assert error["loc"] == ("id_number",)
    assert error["ctx"]["reason_zh"] and error["ctx"]["reason_en"]


def test_an_invalid_unit_code_is_refused_with_its_reason() -> None:
    with pytest.raises(ValidationError) as exc:
        builders.mortgage_registration(unit_code="441900003001GB00000F00010101")
    assert exc.value.errors()[0]["loc"] == ("unit_code",)


def test_unit_code_is_normalised_from_its_printed_groups() -> None:
    case_input = builders.mortgage_registration(unit_code="441900 003001 gb00101 F00010101")
    assert case_input.unit_code == "441900003001GB00101F00010101"


@pytest.mark.parametrize(
    ("co", "buyers", "message"),
    [
        (
            CoOwnership.SHARES,
            [Owner(party=LI_NA, share=Decimal("0.5")), Owner(party=WANG_QIANG, share=Decimal("0.4"))],
            "add up to 1",
        ),
        (CoOwnership.SOLE, [Owner(party=LI_NA), Owner(party=WANG_QIANG)], "exactly one owner"),
        (
            CoOwnership.JOINT,
            [Owner(party=LI_NA, share=Decimal("0.5")), Owner(party=WANG_QIANG)],
            "only to 按份共有",
        ),
        (CoOwnership.JOINT, [Owner(party=LI_NA), Owner(party=LI_NA)], "listed twice"),
    ],
)
def test_co_ownership_must_be_coherent(co: CoOwnership, buyers: list[Owner], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        builders.transfer(co_ownership=co, buyers=buyers)


def test_shares_adding_to_one_are_accepted_and_money_stays_decimal() -> None:
    transfer = builders.transfer(
        co_ownership=CoOwnership.SHARES,
        buyers=[Owner(party=LI_NA, share=Decimal("0.6")), Owner(party=WANG_QIANG, share=Decimal("0.4"))],
    )
    assert isinstance(transfer.price, Decimal)
    parsed = TypeAdapter(CaseInput).validate_json(transfer.model_dump_json())
    assert isinstance(parsed, TransferInput) and parsed == transfer


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        TypeAdapter(CaseInput).validate_python(
            {**builders.contract_filing().model_dump(), "status": "completed"}
        )


def test_a_registered_case_can_no_longer_be_withdrawn() -> None:
    case = Case.model_validate(
        {
            "id": "x",
            "kind": "contract_filing",
            "state": "registered",
            "unit_code": "u",
            "submitted_by": "b",
            "branch": "b",
            "clerk": "c",
            "input": builders.contract_filing().model_dump(),
            "received_at": "2026-11-27T01:00:00Z",
            "deadline_at": "2026-11-30T01:00:00Z",
        }
    )
    with pytest.raises(Conflict) as exc:
        case.move(CaseState.WITHDRAWN, actor="bank", at=case.received_at)
    assert "已登簿" in exc.value.message_zh


def test_a_seller_acquisition_after_the_contract_is_refused_on_its_field_in_both_languages() -> None:
    with pytest.raises(ValidationError) as exc:
        builders.transfer(contract_date=date(2026, 11, 20), seller_acquired_on=date(2026, 11, 21))
    [error] = exc.value.errors()
    assert error["loc"] == ("seller_acquired_on",)
    assert "晚于买卖合同签订日期" in error["ctx"]["reason_zh"]
    assert "after contract_date" in error["ctx"]["reason_en"]
    same_day = builders.transfer(contract_date=date(2026, 11, 20), seller_acquired_on=date(2026, 11, 20))
    assert same_day.seller_acquired_on == same_day.contract_date
