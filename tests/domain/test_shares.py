"""Shares of 按份共有 are exact fractions: what a counter may send, what is stored, what is printed."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.domain.cases import CaseInput, TransferInput
from gateway.domain.parties import CoOwnership, Owner
from gateway.domain.shares import share_zh
from gateway.seed import CHEN_JING, LIU_YANG, ZHOU_JIE
from tests.services import builders

BUYERS = (LIU_YANG, CHEN_JING, ZHOU_JIE)


@pytest.mark.parametrize(
    ("sent", "share"),
    [
        ("1/3", Fraction(1, 3)),
        ("2/6", Fraction(1, 3)),
        ("0.5", Fraction(1, 2)),
        (0.25, Fraction(1, 4)),
        (Decimal("0.600000"), Fraction(3, 5)),
        ("1", Fraction(1)),
    ],
)
def test_a_share_is_read_exactly_from_a_fraction_or_a_decimal(sent: object, share: Fraction) -> None:
    assert Owner.model_validate({"party": LIU_YANG, "share": sent}).share == share


@pytest.mark.parametrize("sent", ["0", "4/3", "1/0", "0.3333333", "a/b", "-1/3", True, "1/10000001"])
def test_a_share_that_is_not_a_part_of_the_whole_is_refused_in_both_languages(sent: object) -> None:
    with pytest.raises(ValidationError) as exc:
        Owner.model_validate({"party": LIU_YANG, "share": sent})
    [error] = exc.value.errors()
    assert error["loc"] == ("share",)
    assert error["ctx"]["reason_zh"] and error["ctx"]["reason_en"]


def test_three_equal_thirds_add_up_to_one_and_are_stored_as_fractions() -> None:
    transfer = builders.transfer(
        co_ownership=CoOwnership.SHARES,
        buyers=[Owner.model_validate({"party": p, "share": "1/3"}) for p in BUYERS],
    )
    assert transfer.model_dump(mode="json")["buyers"][0]["share"] == "1/3"
    again = TypeAdapter(CaseInput).validate_json(transfer.model_dump_json())
    assert isinstance(again, TransferInput) and again == transfer


def test_decimal_thirds_do_not_add_up_to_one() -> None:
    with pytest.raises(ValidationError, match="add up to 1"):
        builders.transfer(
            co_ownership=CoOwnership.SHARES,
            buyers=[Owner.model_validate({"party": p, "share": "0.333333"}) for p in BUYERS],
        )


@pytest.mark.parametrize(
    ("share", "printed"),
    [
        (Fraction(1, 3), "三分之一"),
        (Fraction(2, 3), "三分之二"),
        (Fraction(5, 12), "十二分之五"),
        (Fraction(3, 5), "60%"),
        (Fraction(1, 2), "50%"),
        (Fraction(1, 8), "八分之一"),
    ],
)
def test_a_certificate_prints_whole_percents_and_otherwise_chinese_fractions(
    share: Fraction, printed: str
) -> None:
    assert share_zh(share) == printed
