"""What a certificate says, read off the register: 不动产权证书 from an ownership entry, 证明 from a mortgage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from e_license import (
    CertificateContent,
    CertificateNumber,
    CoOwnership,
    LicenseIdentifier,
    MortgageMethod,
    MortgageTerms,
    OwnershipCertificateContent,
    RegistrationProofContent,
    RightHolder,
)
from gateway.domain import parties
from gateway.domain.cases import (
    CaseKind,
    MortgageRegistrationInput,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
)
from gateway.domain.register import (
    Entry,
    MortgageFacts,
    MortgageKind,
    OwnershipFacts,
    Unit,
    plan_image,
)
from gateway.domain.workflow import Case
from gateway.errors import ConfigError
from gateway.settings import RegistrySettings

__all__ = ["Issuance", "Reissue", "build_content", "building_conditions", "land_term"]

_CO_OWNERSHIP = {
    parties.CoOwnership.SOLE: CoOwnership.SOLE,
    parties.CoOwnership.JOINT: CoOwnership.JOINT,
    parties.CoOwnership.SHARES: CoOwnership.BY_SHARE,
}
_METHOD = {MortgageKind.GENERAL: MortgageMethod.GENERAL, MortgageKind.MAXIMUM: MortgageMethod.MAXIMUM}
_CN_DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_ISO_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
# 使用期限 as the cadastre writes it: 2005年07月01日起2075年06月30日止, or ISO dates joined by 至/起…止.
_TERM_PATTERNS = (
    re.compile(rf"{_CN_DATE}\s*起\s*{_CN_DATE}\s*止?"),
    re.compile(rf"{_ISO_DATE}\s*(?:至|起|~|—|–|-)\s*{_ISO_DATE}\s*止?"),
)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Reissue:
    """A re-issued certificate (换发 / 补发): which number it replaces and why, printed in 附记."""

    replaces: str
    reason: str
    lost: bool = False  # 补发 (the old one was lost) rather than 换发 (exchanged)

    @property
    def label_zh(self) -> str:
        return "补发" if self.lost else "换发"


@dataclass(frozen=True)
class Issuance:
    """Everything a certificate is built from besides the register: its number, identity and QR target."""

    number: CertificateNumber
    identifier: LicenseIdentifier
    issue_date: date
    verification_url: str
    registry: RegistrySettings
    reissue: Reissue | None = None
    seal: bytes | None = None  # the registry's seal image (PNG or SVG), drawn over 登记机构（章）


def land_term(text: str) -> tuple[date, date] | None:
    """The land-use term of a unit's `land_term`, or None when it is empty or unreadable (printed blank)."""
    for pattern in _TERM_PATTERNS:
        match = pattern.search(text or "")
        if match:
            y1, m1, d1, y2, m2, d2 = (int(g) for g in match.groups())
            try:
                start, end = date(y1, m1, d1), date(y2, m2, d2)
            except ValueError:
                return None
            return (start, end) if end > start else None
    return None


def build_content(
    issuance: Issuance,
    entry: Entry,
    unit: Unit,
    case: Case | None,
    ownership_number: str | None,
) -> CertificateContent:
    """The content of the certificate proving `entry`.

    `case` is the case that opened the entry (None for entries migrated from the paper register);
    `ownership_number` the number of the ownership certificate a mortgage stands on (原不动产权证号).
    """
    facts = entry.facts
    if isinstance(facts, OwnershipFacts):
        return _ownership(issuance, facts, unit, case)
    if isinstance(facts, MortgageFacts):
        return _mortgage_proof(issuance, entry, facts, unit, case, ownership_number)
    raise ConfigError(
        f"entry {entry.id} is a {entry.kind.value} entry: no certificate content is defined for it",
        f"登记簿记载 {entry.id}（{entry.kind.value}）没有对应的证书版式",
    )


def _common(issuance: Issuance, remarks: list[str]) -> dict[str, object]:
    return {
        "number": issuance.number,
        "number_pattern": issuance.registry.number_pattern,
        "identifier": issuance.identifier,
        "issuer_name": issuance.registry.name,
        "issue_date": issuance.issue_date,
        "verification_url": issuance.verification_url,
        "remarks": tuple(remarks),
        "seal": issuance.seal,
    }


def _ownership(
    issuance: Issuance, facts: OwnershipFacts, unit: Unit, case: Case | None
) -> OwnershipCertificateContent:
    co_ownership = _CO_OWNERSHIP[facts.co_ownership]
    holders = tuple(
        RightHolder(
            name=owner.party.name,
            share=owner.share if co_ownership is CoOwnership.BY_SHARE else None,
        )
        for owner in facts.owners
    )
    term = land_term(unit.land_term)
    other = building_conditions(unit)
    if len(holders) > 1:
        other.append(f"持证人：{holders[0].name}")  # one book for co-owners, held by the first named
    if not unit.first_registered:
        other.append("房屋所在楼栋尚未办理首次登记")
    remarks = [f"登记原因：{_reason(case, ownership=True)}"]
    if case is not None and isinstance(case.input, TransferInput) and case.input.ownership_certificate_number:
        remarks.append(f"原不动产权证号：{case.input.ownership_certificate_number}")
    remarks += _tail_remarks(issuance, case)
    return OwnershipCertificateContent(
        **_common(issuance, remarks),
        holders=holders,
        co_ownership=co_ownership,
        location=unit.address,
        unit_code=unit.unit_code,
        right_type=unit.right_type,
        right_nature=unit.right_nature,
        usage=f"{unit.land_use}/{unit.house_use}",
        land_area=unit.land_area.quantize(_CENT) if unit.land_area else None,
        building_area=unit.floor_area.quantize(_CENT),
        term_start=term[0] if term else None,
        term_end=term[1] if term else None,
        land_terms=unit.land_terms,
        other_conditions=tuple(other),
        plan=plan_image(unit.plan)[1] if unit.plan else None,
    )


def building_conditions(unit: Unit) -> list[str]:
    """权利其他状况 of a house as the official form prints them: areas, structure, floors, completion."""
    lines = []
    areas = []
    if unit.exclusive_area is not None:
        areas.append(f"专有建筑面积：{_area(unit.exclusive_area)}")
    if unit.shared_area is not None:
        areas.append(f"分摊建筑面积：{_area(unit.shared_area)}")
    if areas:
        lines.append("，".join(areas))
    if unit.structure:
        lines.append(f"房屋结构：{unit.structure}")
    floors = []
    if unit.total_floors is not None:
        floors.append(f"房屋总层数：{unit.total_floors}层")
    if unit.floor:
        floors.append(f"所在层：{unit.floor}层")
    if floors:
        lines.append("，".join(floors))
    if unit.completed_on is not None:
        d = unit.completed_on
        lines.append(f"房屋竣工时间：{d.year}年{d.month}月{d.day}日")
    return lines


def _area(value: Decimal) -> str:
    return f"{value.quantize(_CENT)}㎡"


def _mortgage_proof(
    issuance: Issuance,
    entry: Entry,
    facts: MortgageFacts,
    unit: Unit,
    case: Case | None,
    ownership_number: str | None,
) -> RegistrationProofContent:
    remarks = [f"登记原因：{_reason(case, ownership=False)}", f"主债权合同编号：{facts.loan_contract_no}"]
    if facts.mortgage_contract_no:
        remarks.append(f"抵押合同编号：{facts.mortgage_contract_no}")
    remarks += _tail_remarks(issuance, case)
    return RegistrationProofContent(
        **_common(issuance, remarks),
        right_or_matter="抵押权",
        right_holders=(facts.mortgagee.name,),
        obligors=tuple(p.name for p in facts.mortgagors),
        location=unit.address,
        unit_code=unit.unit_code,
        mortgage=MortgageTerms(
            method=_METHOD[facts.mortgage_kind],
            amount=facts.amount.quantize(_CENT),
            term_start=facts.term_start,
            term_end=facts.term_end,
            rank=entry.rank or 1,
            original_certificate=ownership_number,
        ),
    )


def _reason(case: Case | None, *, ownership: bool) -> str:
    """登记原因 as the registry words it for each case kind."""
    if case is None:
        return "存量登记（纸质证书转电子证照）"
    inp = case.input
    if isinstance(inp, TransferInput):
        if inp.transfer_type is TransferType.CO_OWNER_SHARE:
            return "按份共有份额转移登记（买卖，民法典第三百零五条）"
        kind = "二手房" if inp.transfer_type is TransferType.SECOND_HAND else "商品房"
        if ownership:
            return f"{kind}转移登记（买卖）"
        return f"{kind}转移登记并抵押权首次登记（合并办理）"
    if isinstance(inp, PresaleMortgageConversionInput):
        return "预购商品房抵押权预告登记转抵押权首次登记"
    if isinstance(inp, MortgageRegistrationInput):
        return "抵押权首次登记"
    return CaseKind(case.kind).label_zh


def _tail_remarks(issuance: Issuance, case: Case | None) -> list[str]:
    lines = []
    if case is not None:
        # The 受理编号 the counter receipt shows; a case accepted before numbering keeps its id.
        lines.append(f"业务件号：{case.receipt_number or case.id}")
    if issuance.reissue is not None:
        r = issuance.reissue
        lines.append(f"本证系{r.label_zh}（{r.reason}），原证号{r.replaces}同时作废。")
    return lines
