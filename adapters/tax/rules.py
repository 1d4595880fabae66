"""Home transfer taxes as dated tables and pure functions (契税, 增值税 and its surcharges, 个人所得税).

Sources: shared/reference/domain.md §4.6. [S] = seen in a source there, [K] = background knowledge to
confirm with the local bureau. Every amount is Decimal, rounded half-up to the fen at each line.

Conventions (documented because the bureau's practice, not a statute, decides them):
- The rules in force on the contract date apply (纳税义务发生时间 = 合同签订日).
- Holding periods run from `seller_acquired_on` to the contract date, and the anniversary day COUNTS:
  acquired 2023-03-15 → two full years on 2025-03-15. An acquisition on 29 February reaches its
  anniversary on 28 February of a common year.
- Prices are VAT-inclusive. VAT is 含税价 ÷ 1.05 × 5 % [K: 营改增 征收率 计算]; the deed tax and the income
  tax are computed on the price without VAT (财税〔2016〕43号: 计征契税的成交价格不含增值税) [K].
- The VAT surcharges (城建税, 教育费附加, 地方教育附加) follow the VAT: adapters/tax/surcharges.py.
- The income tax gain deducts the original value, proven reasonable costs and the surcharges paid
  (转让过程中缴纳的税金, 国税发〔2006〕108号) [K].
- A new home (增量房, the developer sells): the buyer owes the deed tax only; the developer declares its own
  VAT, surcharges, 土地增值税 and corporate income tax, which are not collected at registration. The price
  includes the developer's VAT at the general rate in force (一般计税, table below) [K]; the deed tax is on
  the price without it. Developers on the 简易计税 5 % method (projects begun before 2016-05-01) are not
  modelled: the bureau then assesses from the invoice.
- Not modelled: the 16号公告 option for contracts signed before 2024-12-01 but not yet declared to elect
  the new rules [K]; 北上广深 special cases (this gateway serves 东莞).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from adapters.tax.dated import (
    FEN,
    ZERO,
    DatedRule,
    anniversary,
    held_full_years,
    rule_in_force,
    to_fen,
)
from adapters.tax.surcharges import Locality, vat_surcharges
from gateway.ports.tax import (
    HomeCount,
    Payer,
    TaxKind,
    TaxLine,
    TransactionKind,
    TransferAssessmentRequest,
)

__all__ = [
    "FEN",
    "ZERO",
    "DatedRule",
    "Locality",
    "anniversary",
    "assess_transfer",
    "deed_tax",
    "held_full_years",
    "income_tax",
    "rule_in_force",
    "to_fen",
    "total",
    "vat",
    "vat_surcharges",
]


@dataclass(frozen=True)
class DeedTaxRule:
    """契税 rates by the buyer family's home count and the floor area, valid [effective_from, until)."""

    rule_id: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    area_threshold_m2: Decimal  # the lower rate applies up to AND including this area
    first_home: tuple[Decimal, Decimal]  # (≤ threshold, > threshold)
    second_home: tuple[Decimal, Decimal]
    standard_rate: Decimal  # 第三套及以上: the provincial statutory rate (广东 3 %)


@dataclass(frozen=True)
class VatRule:
    """增值税 on an individual's home sale: full rate under N years held, exempt from N full years."""

    rule_id: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    exempt_after_years: int
    rate: Decimal  # 征收率 applied to the price without VAT


@dataclass(frozen=True)
class IncomeTaxRule:
    """个人所得税 on the seller: exempt for 满五唯一, else a rate on the gain, or a deemed (核定) rate."""

    rule_id: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    exempt_after_years: int
    gain_rate: Decimal
    deemed_rate: (
        Decimal  # of the price without VAT, when the original value is not proven (广东 commonly 1 %)
    )


@dataclass(frozen=True)
class DeveloperVatRule:
    """The developer's general VAT rate (一般计税) a new home's price includes, valid [from, until)."""

    rule_id: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    rate: Decimal


D = Decimal
DEED_TAX_RULES: tuple[DeedTaxRule, ...] = (
    DeedTaxRule(  # [S] 90㎡ threshold; 北上广深 excluded from second-home relief (not this registry)
        rule_id="deed_tax/2016-02-22",
        basis_zh="财税〔2016〕23号",
        effective_from=date(2016, 2, 22),
        effective_until=date(2024, 12, 1),
        area_threshold_m2=D("90"),
        first_home=(D("0.01"), D("0.015")),
        second_home=(D("0.01"), D("0.02")),
        standard_rate=D("0.03"),
    ),
    DeedTaxRule(  # [S] 140㎡ threshold from 2024-12-01
        rule_id="deed_tax/2024-12-01",
        basis_zh="财政部 税务总局 住房城乡建设部公告2024年第16号",
        effective_from=date(2024, 12, 1),
        effective_until=None,
        area_threshold_m2=D("140"),
        first_home=(D("0.01"), D("0.015")),
        second_home=(D("0.01"), D("0.02")),
        standard_rate=D("0.03"),
    ),
)

VAT_RULES: tuple[VatRule, ...] = (
    VatRule(  # [S] <2 years 5 % of the full price, ≥2 years exempt (outside 北上广深)
        rule_id="vat/2016-05-01",
        basis_zh="财税〔2016〕36号",
        effective_from=date(2016, 5, 1),
        effective_until=None,
        exempt_after_years=2,
        rate=D("0.05"),
    ),
)

INCOME_TAX_RULES: tuple[IncomeTaxRule, ...] = (
    IncomeTaxRule(  # [S] 20 % of the gain; 核定 1 % (province sets 1–3 %); 满五唯一 exempt
        rule_id="iit/2006-08-01",
        basis_zh="国税发〔2006〕108号；财税字〔1999〕278号",
        effective_from=date(2006, 8, 1),
        effective_until=None,
        exempt_after_years=5,
        gain_rate=D("0.20"),
        deemed_rate=D("0.01"),
    ),
)

DEVELOPER_VAT_RULES: tuple[DeveloperVatRule, ...] = (
    DeveloperVatRule(  # [K] 营改增: sales of real estate at 11 %
        rule_id="developer_vat/2016-05-01",
        basis_zh="财税〔2016〕36号",
        effective_from=date(2016, 5, 1),
        effective_until=date(2018, 5, 1),
        rate=D("0.11"),
    ),
    DeveloperVatRule(  # [K]
        rule_id="developer_vat/2018-05-01",
        basis_zh="财税〔2018〕32号",
        effective_from=date(2018, 5, 1),
        effective_until=date(2019, 4, 1),
        rate=D("0.10"),
    ),
    DeveloperVatRule(  # [K]
        rule_id="developer_vat/2019-04-01",
        basis_zh="财政部 税务总局 海关总署公告2019年第39号",
        effective_from=date(2019, 4, 1),
        effective_until=None,
        rate=D("0.09"),
    ),
)


def vat(contract_date: date, price: Decimal, acquired_on: date) -> TaxLine:
    rule = rule_in_force(VAT_RULES, contract_date, "增值税")
    if held_full_years(acquired_on, contract_date, rule.exempt_after_years):
        return TaxLine(
            kind=TaxKind.VAT,
            payer=Payer.SELLER,
            base=price,
            rate=ZERO,
            amount=ZERO,
            rule=f"{rule.rule_id}/held_{rule.exempt_after_years}y_exempt",
            rule_zh=f"{rule.basis_zh}：个人住房满{rule.exempt_after_years}年 免征",
        )
    base = to_fen(price / (1 + rule.rate))
    return TaxLine(
        kind=TaxKind.VAT,
        payer=Payer.SELLER,
        base=base,
        rate=rule.rate,
        amount=to_fen(base * rule.rate),
        rule=f"{rule.rule_id}/under_{rule.exempt_after_years}y",
        rule_zh=f"{rule.basis_zh}：不满{rule.exempt_after_years}年 按{rule.rate:.0%}征收率全额缴纳",
    )


def deed_tax(contract_date: date, price_ex_vat: Decimal, area_m2: Decimal, home_count: HomeCount) -> TaxLine:
    rule = rule_in_force(DEED_TAX_RULES, contract_date, "契税")
    small = area_m2 <= rule.area_threshold_m2
    limit = f"{rule.area_threshold_m2}㎡"
    if home_count is HomeCount.FIRST:
        rate = rule.first_home[0 if small else 1]
        rule_key, rule_zh = "first_home", "家庭唯一住房"
    elif home_count is HomeCount.SECOND:
        rate = rule.second_home[0 if small else 1]
        rule_key, rule_zh = "second_home", "家庭第二套住房"
    else:
        return TaxLine(
            kind=TaxKind.DEED_TAX,
            payer=Payer.BUYER,
            base=price_ex_vat,
            rate=rule.standard_rate,
            amount=to_fen(price_ex_vat * rule.standard_rate),
            rule=f"{rule.rule_id}/standard",
            rule_zh=f"{rule.basis_zh}：第三套及以上 按法定税率{rule.standard_rate:.0%}",
        )
    return TaxLine(
        kind=TaxKind.DEED_TAX,
        payer=Payer.BUYER,
        base=price_ex_vat,
        rate=rate,
        amount=to_fen(price_ex_vat * rate),
        rule=f"{rule.rule_id}/{rule_key}/{'le' if small else 'gt'}_{rule.area_threshold_m2}m2",
        rule_zh=f"{rule.basis_zh}：{rule_zh} {'≤' if small else '>'}{limit} 税率{rate:.1%}",
    )


def income_tax(
    contract_date: date,
    price_ex_vat: Decimal,
    acquired_on: date,
    sole_home: bool,
    original_value: Decimal | None,
    deductible_costs: Decimal,
) -> TaxLine:
    rule = rule_in_force(INCOME_TAX_RULES, contract_date, "个人所得税")
    if sole_home and held_full_years(acquired_on, contract_date, rule.exempt_after_years):
        return TaxLine(
            kind=TaxKind.INDIVIDUAL_INCOME_TAX,
            payer=Payer.SELLER,
            base=price_ex_vat,
            rate=ZERO,
            amount=ZERO,
            rule=f"{rule.rule_id}/sole_home_{rule.exempt_after_years}y_exempt",
            rule_zh="财税字〔1999〕278号：满五唯一 免征",
        )
    if original_value is None:
        return TaxLine(
            kind=TaxKind.INDIVIDUAL_INCOME_TAX,
            payer=Payer.SELLER,
            base=price_ex_vat,
            rate=rule.deemed_rate,
            amount=to_fen(price_ex_vat * rule.deemed_rate),
            rule=f"{rule.rule_id}/deemed",
            rule_zh=f"国税发〔2006〕108号：原值无法核实 按转让收入{rule.deemed_rate:.0%}核定征收",
        )
    gain = max(price_ex_vat - original_value - deductible_costs, ZERO)
    return TaxLine(
        kind=TaxKind.INDIVIDUAL_INCOME_TAX,
        payer=Payer.SELLER,
        base=to_fen(gain),
        rate=rule.gain_rate,
        amount=to_fen(gain * rule.gain_rate),
        rule=f"{rule.rule_id}/gain",
        rule_zh=f"国税发〔2006〕108号：（转让收入−原值−合理费用）×{rule.gain_rate:.0%}",
    )


def assess_transfer(
    request: TransferAssessmentRequest, locality: Locality = Locality.URBAN
) -> tuple[TaxLine, ...]:
    """The taxes collected before a transfer's 登簿 (契税法 第11条).

    A second-hand sale: deed tax, VAT, the VAT surcharges when VAT is due, income tax (exempt ones at 0).
    A new home: the buyer's deed tax on the price without the developer's VAT, and nothing else — the
    developer's taxes are its own declarations, not the registry's gate.
    """
    if request.transaction is TransactionKind.NEW_HOME:
        developer_vat = rule_in_force(DEVELOPER_VAT_RULES, request.contract_date, "增值税")
        price_ex_vat = to_fen(request.price / (1 + developer_vat.rate))
        return (deed_tax(request.contract_date, price_ex_vat, request.area_m2, request.buyer_home_count),)
    acquired_on = request.seller_acquired_on
    assert acquired_on is not None  # the request's validator requires it for a second-hand sale
    vat_line = vat(request.contract_date, request.price, acquired_on)
    surcharges = vat_surcharges(request.contract_date, vat_line, locality)
    price_ex_vat = request.price - vat_line.amount
    return (
        deed_tax(request.contract_date, price_ex_vat, request.area_m2, request.buyer_home_count),
        vat_line,
        *surcharges,
        income_tax(
            request.contract_date,
            price_ex_vat,
            acquired_on,
            request.seller_sole_home,
            request.original_value,
            request.deductible_costs + total(surcharges),
        ),
    )


def total(lines: Sequence[TaxLine]) -> Decimal:
    return to_fen(sum((line.amount for line in lines), ZERO))
