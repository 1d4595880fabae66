"""Tax rules at their boundaries: 90/140 m², the 2024-12-01 change, 2 and 5 full years, rounding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.tax import rules
from gateway.errors import InputError
from gateway.ports import HomeCount, Person, TaxKind, TransferAssessmentRequest

D = Decimal
PRICE = D("1000000.00")


def deed_rate(contract: date, area: str, homes: HomeCount) -> Decimal:
    return rules.deed_tax(contract, PRICE, D(area), homes).rate


@pytest.mark.parametrize(
    ("area", "homes", "rate"),
    [
        ("140.00", HomeCount.FIRST, "0.01"),  # exactly 140 m²: the lower rate
        ("140.01", HomeCount.FIRST, "0.015"),
        ("140.00", HomeCount.SECOND, "0.01"),
        ("140.01", HomeCount.SECOND, "0.02"),
        ("60.00", HomeCount.OTHER, "0.03"),  # third home: statutory rate whatever the area
    ],
)
def test_deed_tax_from_2024_12_01_uses_the_140_m2_threshold(area: str, homes: HomeCount, rate: str) -> None:
    assert deed_rate(date(2024, 12, 1), area, homes) == D(rate)


@pytest.mark.parametrize(
    ("area", "homes", "rate"),
    [
        ("90.00", HomeCount.FIRST, "0.01"),  # exactly 90 m² under the old rule: the lower rate
        ("90.01", HomeCount.FIRST, "0.015"),
        ("90.01", HomeCount.SECOND, "0.02"),
        ("140.00", HomeCount.FIRST, "0.015"),  # the same flat a day later would pay 1 %
    ],
)
def test_deed_tax_before_2024_12_01_uses_the_90_m2_threshold(area: str, homes: HomeCount, rate: str) -> None:
    assert deed_rate(date(2024, 11, 30), area, homes) == D(rate)


def test_the_change_day_itself_is_under_the_new_rule() -> None:
    old = rules.deed_tax(date(2024, 11, 30), PRICE, D("120"), HomeCount.FIRST)
    new = rules.deed_tax(date(2024, 12, 1), PRICE, D("120"), HomeCount.FIRST)
    assert (old.amount, new.amount) == (D("15000.00"), D("10000.00"))
    assert old.rule.startswith("deed_tax/2016-02-22") and new.rule.startswith("deed_tax/2024-12-01")
    assert "140" in new.rule_zh and "16号" in new.rule_zh


def test_a_contract_before_every_table_is_refused_with_a_reason() -> None:
    with pytest.raises(InputError, match="no 契税 rule in force on 2016-02-21"):
        rules.deed_tax(date(2016, 2, 21), PRICE, D("80"), HomeCount.FIRST)


@pytest.mark.parametrize(
    ("contract", "amount"),
    [
        (date(2025, 3, 14), D("50000.00")),  # one day short of 2 full years: taxed
        (date(2025, 3, 15), D("0.00")),  # the anniversary day counts: exempt
    ],
)
def test_vat_exempt_from_two_full_years(contract: date, amount: Decimal) -> None:
    line = rules.vat(contract, D("1050000.00"), date(2023, 3, 15))
    assert line.amount == amount


def test_vat_is_five_percent_of_the_price_without_vat_rounded_to_the_fen() -> None:
    line = rules.vat(date(2025, 1, 1), D("1234567.89"), date(2024, 6, 1))
    # 1234567.89 / 1.05 = 1175778.942857… → 1175778.94; × 5 % = 58788.947 → 58788.95 (half-up)
    assert (line.base, line.amount) == (D("1175778.94"), D("58788.95"))


def test_a_29_february_acquisition_reaches_its_anniversary_on_28_february() -> None:
    assert rules.anniversary(date(2020, 2, 29), 2) == date(2022, 2, 28)
    assert rules.held_full_years(date(2020, 2, 29), date(2022, 2, 28), 2)
    assert not rules.held_full_years(date(2020, 2, 29), date(2022, 2, 27), 2)


@pytest.mark.parametrize(
    ("contract", "sole_home", "rule_suffix", "amount"),
    [
        (date(2025, 6, 1), True, "sole_home_5y_exempt", D("0.00")),  # the 5th anniversary counts
        (date(2025, 5, 31), True, "deemed", D("10000.00")),  # one day short: 核定 1 %
        (date(2025, 6, 1), False, "deemed", D("10000.00")),  # five years but not the only home
    ],
)
def test_income_tax_man_wu_wei_yi(contract: date, sole_home: bool, rule_suffix: str, amount: Decimal) -> None:
    line = rules.income_tax(contract, PRICE, date(2020, 6, 1), sole_home, None, D("0"))
    assert line.rule.endswith(rule_suffix)
    assert line.amount == amount


def test_income_tax_on_the_gain_when_the_original_value_is_proven() -> None:
    line = rules.income_tax(date(2025, 1, 1), PRICE, date(2022, 1, 1), False, D("700000.00"), D("50000.00"))
    assert (line.base, line.rate, line.amount) == (D("250000.00"), D("0.20"), D("50000.00"))
    loss = rules.income_tax(date(2025, 1, 1), PRICE, date(2022, 1, 1), False, D("1200000.00"), D("0"))
    assert loss.amount == D("0.00")


def person(name: str) -> Person:
    return Person(name=name, id_number="441900199001011234")


def test_assess_transfer_combines_the_three_taxes_on_the_price_without_vat() -> None:
    request = TransferAssessmentRequest(
        case_id="c1",
        unit_code="441900001001GB00001F00010001",
        contract_date=date(2025, 1, 10),
        price=D("2100000.00"),
        area_m2=D("141.00"),
        buyers=(person("李四"),),
        sellers=(person("王五"),),
        buyer_home_count=HomeCount.SECOND,
        seller_acquired_on=date(2024, 1, 10),  # held one year: VAT due
        seller_sole_home=False,
        original_value=None,
    )
    lines = {line.kind: line for line in rules.assess_transfer(request)}
    assert lines[TaxKind.VAT].amount == D("100000.00")  # 2100000 / 1.05 × 5 %
    assert lines[TaxKind.DEED_TAX].base == D("2000000.00")
    assert lines[TaxKind.DEED_TAX].amount == D("40000.00")  # second home > 140 m²: 2 %
    assert lines[TaxKind.INDIVIDUAL_INCOME_TAX].amount == D("20000.00")  # 核定 1 %
    assert rules.total(tuple(lines.values())) == D("160000.00")
