"""Tax rules at their boundaries: 90/140 m², the 2024-12-01 change, 2 and 5 full years, rounding, the VAT
surcharges, and a new home (增量房) taxed as such."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.tax import rules
from gateway.errors import InputError
from gateway.ports import HomeCount, Person, TaxKind, TransactionKind, TransferAssessmentRequest

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


def second_hand(**changes: object) -> TransferAssessmentRequest:
    return TransferAssessmentRequest(
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
    ).model_copy(update=changes)


def test_assess_transfer_combines_the_taxes_on_the_price_without_vat() -> None:
    lines = {line.kind: line for line in rules.assess_transfer(second_hand())}
    assert lines[TaxKind.VAT].amount == D("100000.00")  # 2100000 / 1.05 × 5 %
    assert lines[TaxKind.DEED_TAX].base == D("2000000.00")
    assert lines[TaxKind.DEED_TAX].amount == D("40000.00")  # second home > 140 m²: 2 %
    assert lines[TaxKind.INDIVIDUAL_INCOME_TAX].amount == D("20000.00")  # 核定 1 %
    # The surcharges on the 100000.00 VAT, halved for a small-scale taxpayer in 2025: 3500 + 1500 + 1000.
    assert rules.total(tuple(lines.values())) == D("166000.00")


def test_vat_surcharges_follow_the_vat_at_7_3_and_2_percent_halved_in_2022_to_2027() -> None:
    lines = rules.assess_transfer(second_hand())
    surcharges = lines[2:5]  # deed tax, VAT, the three surcharges, income tax
    assert [(s.kind, s.base, s.rate, s.amount, s.payer.value) for s in surcharges] == [
        (TaxKind.URBAN_MAINTENANCE_TAX, D("100000.00"), D("0.035"), D("3500.00"), "seller"),
        (TaxKind.EDUCATION_SURCHARGE, D("100000.00"), D("0.015"), D("1500.00"), "seller"),
        (TaxKind.LOCAL_EDUCATION_SURCHARGE, D("100000.00"), D("0.010"), D("1000.00"), "seller"),
    ]
    assert "城市维护建设税法第四条" in surcharges[0].rule_zh and "7%" in surcharges[0].rule_zh
    assert "2023年第12号" in surcharges[0].rule_zh
    assert surcharges[0].rule.startswith("urban_maintenance_tax/2021-09-01/urban")


def test_vat_surcharges_at_full_rates_outside_the_relief_and_by_locality() -> None:
    vat_line = rules.vat(date(2021, 12, 31), D("1050000.00"), date(2021, 1, 1))  # VAT 50000.00
    urban = rules.vat_surcharges(date(2021, 12, 31), vat_line, rules.Locality.URBAN)
    assert [line.amount for line in urban] == [D("3500.00"), D("1500.00"), D("1000.00")]
    town = rules.vat_surcharges(date(2021, 12, 31), vat_line, rules.Locality.TOWN)
    assert town[0].rate == D("0.05") and town[0].amount == D("2500.00")
    # 2021-08-31: still the 1985 暂行条例, the same rates.
    before = rules.vat_surcharges(date(2021, 8, 31), vat_line, rules.Locality.URBAN)
    assert before[0].rule.startswith("urban_maintenance_tax/1985-01-01")


def test_a_vat_exempt_sale_owes_no_surcharge() -> None:
    lines = rules.assess_transfer(second_hand(seller_acquired_on=date(2020, 1, 10)))
    assert {line.kind for line in lines} == {
        TaxKind.DEED_TAX,
        TaxKind.VAT,
        TaxKind.INDIVIDUAL_INCOME_TAX,
    }


def test_surcharges_are_deducted_from_the_gain_as_taxes_paid_on_the_sale() -> None:
    lines = rules.assess_transfer(second_hand(original_value=D("1500000.00")))
    income = next(line for line in lines if line.kind is TaxKind.INDIVIDUAL_INCOME_TAX)
    # 2000000.00 − 1500000.00 − 6000.00 surcharges = 494000.00 × 20 %
    assert (income.base, income.amount) == (D("494000.00"), D("98800.00"))


def test_a_new_home_owes_the_buyers_deed_tax_only_on_the_price_without_the_developers_vat() -> None:
    # The case: 1900000.00 taxed as a private sale held 0 days gave VAT 90476.19, 个税 18095.24 and
    # 126666.67 due before 登簿. Bought from the developer, the buyer owes the deed tax alone.
    request = second_hand(
        transaction=TransactionKind.NEW_HOME,
        contract_date=date(2026, 11, 20),
        price=D("1900000.00"),
        area_m2=D("92.10"),
        buyer_home_count=HomeCount.FIRST,
        seller_acquired_on=None,
    )
    [line] = rules.assess_transfer(request)
    assert (line.kind, line.payer.value) == (TaxKind.DEED_TAX, "buyer")
    # 1900000 / 1.09 = 1743119.27 (the developer's 9 % VAT is in the price); first home ≤ 140 m²: 1 %
    assert (line.base, line.rate, line.amount) == (D("1743119.27"), D("0.01"), D("17431.19"))
    assert rules.total((line,)) == D("17431.19")


def test_a_second_hand_request_needs_the_sellers_acquisition_date() -> None:
    with pytest.raises(ValueError, match="seller_acquired_on is required"):
        TransferAssessmentRequest.model_validate({**second_hand().model_dump(), "seller_acquired_on": None})
