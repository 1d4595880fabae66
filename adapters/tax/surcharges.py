"""The VAT surcharges (增值税附加): 城市维护建设税, 教育费附加, 地方教育附加, as dated tables on the VAT paid.

Each is levied on the VAT actually paid, so a sale exempt from VAT owes none of them, and they are the
seller's, like the VAT. [K] = background knowledge to confirm with the local bureau (none of these is in
shared/reference/domain.md §4.6 beyond "surcharges follow VAT").

- 城市维护建设税: 《中华人民共和国城市维护建设税法》(from 2021-09-01) 第二条 "以纳税人依法实际缴纳的增值税、消费税
  税额为计税依据", 第四条 "纳税人所在地在市区的，税率为百分之七；在县城、镇的，税率为百分之五；不在市区、县城或者镇的，
  税率为百分之一"; before it the same rates in 《城市维护建设税暂行条例》(国发〔1985〕19号) 第四条 [K].
- 教育费附加: 《征收教育费附加的暂行规定》(国务院令第448号修订, from 2005-10-01) 第三条: 3 % of the VAT paid [K].
- 地方教育附加: 财综〔2010〕98号 (财政部关于统一地方教育附加政策有关问题的通知): 2 % of the VAT paid [K].
- Relief: 财政部 税务总局公告2022年第10号 and 2023年第12号 halve all three for 增值税小规模纳税人 from 2022-01-01 to
  2027-12-31; an individual selling a home (其他个人) pays VAT as a small-scale taxpayer, so it is halved [K].

The locality (市区 / 县城、镇 / elsewhere) is where the property lies; the bureau knows it, the gateway does not
send it. 东莞's registry is assessed as 市区 by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from adapters.tax.dated import find_in_force, rule_in_force, to_fen
from gateway.ports.tax import Payer, TaxKind, TaxLine


class Locality(StrEnum):
    """Where the taxed property lies, for 城市维护建设税法 第四条."""

    URBAN = "urban"  # 市区
    TOWN = "town"  # 县城、镇
    OTHER = "other"  # 不在市区、县城或者镇

    @property
    def label_zh(self) -> str:
        return {"urban": "市区", "town": "县城、镇", "other": "市区、县城、镇以外"}[self.value]


@dataclass(frozen=True)
class SurchargeRule:
    """One surcharge's rate on the VAT paid, by locality, valid [effective_from, effective_until)."""

    rule_id: str
    kind: TaxKind
    name_zh: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    rates: Mapping[Locality, Decimal]


@dataclass(frozen=True)
class SurchargeRelief:
    """A reduction of every surcharge (e.g. 减半征收), valid [effective_from, effective_until)."""

    rule_id: str
    basis_zh: str
    effective_from: date
    effective_until: date | None
    factor: Decimal  # the share still due: 0.5 = halved


D = Decimal


def _everywhere(rate: str) -> Mapping[Locality, Decimal]:
    return dict.fromkeys(Locality, D(rate))


URBAN_MAINTENANCE_TAX_RULES: tuple[SurchargeRule, ...] = (
    SurchargeRule(  # [K] the same rates since 1985
        rule_id="urban_maintenance_tax/1985-01-01",
        kind=TaxKind.URBAN_MAINTENANCE_TAX,
        name_zh="城市维护建设税",
        basis_zh="城市维护建设税暂行条例第四条",
        effective_from=date(1985, 1, 1),
        effective_until=date(2021, 9, 1),
        rates={Locality.URBAN: D("0.07"), Locality.TOWN: D("0.05"), Locality.OTHER: D("0.01")},
    ),
    SurchargeRule(
        rule_id="urban_maintenance_tax/2021-09-01",
        kind=TaxKind.URBAN_MAINTENANCE_TAX,
        name_zh="城市维护建设税",
        basis_zh="城市维护建设税法第四条",
        effective_from=date(2021, 9, 1),
        effective_until=None,
        rates={Locality.URBAN: D("0.07"), Locality.TOWN: D("0.05"), Locality.OTHER: D("0.01")},
    ),
)

EDUCATION_SURCHARGE_RULES: tuple[SurchargeRule, ...] = (
    SurchargeRule(
        rule_id="education_surcharge/2005-10-01",
        kind=TaxKind.EDUCATION_SURCHARGE,
        name_zh="教育费附加",
        basis_zh="征收教育费附加的暂行规定第三条（国务院令第448号）",
        effective_from=date(2005, 10, 1),
        effective_until=None,
        rates=_everywhere("0.03"),
    ),
)

LOCAL_EDUCATION_SURCHARGE_RULES: tuple[SurchargeRule, ...] = (
    SurchargeRule(
        rule_id="local_education_surcharge/2011-01-01",
        kind=TaxKind.LOCAL_EDUCATION_SURCHARGE,
        name_zh="地方教育附加",
        basis_zh="财综〔2010〕98号",
        effective_from=date(2011, 1, 1),
        effective_until=None,
        rates=_everywhere("0.02"),
    ),
)

SURCHARGE_RELIEFS: tuple[SurchargeRelief, ...] = (
    SurchargeRelief(  # [K] 2022年第10号 (to 2024-12-31), extended by 2023年第12号 to 2027-12-31
        rule_id="small_scale_half/2022-01-01",
        basis_zh="财政部 税务总局公告2022年第10号、2023年第12号：小规模纳税人减半征收",
        effective_from=date(2022, 1, 1),
        effective_until=date(2028, 1, 1),
        factor=D("0.5"),
    ),
)

_TABLES = (
    (URBAN_MAINTENANCE_TAX_RULES, "城市维护建设税"),
    (EDUCATION_SURCHARGE_RULES, "教育费附加"),
    (LOCAL_EDUCATION_SURCHARGE_RULES, "地方教育附加"),
)


def vat_surcharges(contract_date: date, vat_line: TaxLine, locality: Locality) -> tuple[TaxLine, ...]:
    """The three surcharges on the VAT of `vat_line`, in the order 城建税, 教育费附加, 地方教育附加;
    none when no VAT is due (they are levied on the VAT paid: 城市维护建设税法 第二条)."""
    if vat_line.amount == 0:
        return ()
    relief = find_in_force(SURCHARGE_RELIEFS, contract_date)
    lines = []
    for table, what in _TABLES:
        rule = rule_in_force(table, contract_date, what)
        statutory = rule.rates[locality]
        rate = statutory * relief.factor if relief else statutory
        rule_zh = f"{rule.basis_zh}：{locality.label_zh}按增值税额的{statutory:.0%}"
        rule_id = f"{rule.rule_id}/{locality.value}"
        if relief is not None:
            rule_zh += f"；{relief.basis_zh}"
            rule_id += f"/{relief.rule_id}"
        lines.append(
            TaxLine(
                kind=rule.kind,
                payer=Payer.SELLER,
                base=vat_line.amount,
                rate=rate,
                amount=to_fen(vat_line.amount * rate),
                rule=rule_id,
                rule_zh=rule_zh,
            )
        )
    return tuple(lines)
