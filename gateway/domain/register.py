"""The register (登记簿): units and the entries recorded on them. Entries are opened and closed, never edited."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.domain.parties import CoOwnership, Institution, Owner, Party

PLAN_MAX_BYTES = 2 * 1024 * 1024
_PLAN_URI = re.compile(r"data:(image/png|image/jpeg);base64,(.+)", re.DOTALL)
_PLAN_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_AREA_TOLERANCE = Decimal("0.01")  # surveyed areas are printed to the cent; their sum may round once


class LandUseTerm(BaseModel):
    """土地使用期限 of one land use: a mixed-use plot has one per use (住宅 70 years, 商服 40)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    use: str = Field(min_length=1)  # 土地用途, e.g. 城镇住宅用地
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> LandUseTerm:
        if self.end <= self.start:
            raise ValueError(
                f"{self.use}的使用期限止日须晚于起日 / the term of {self.use} must end after it starts"
            )
        return self


def plan_image(plan: str) -> tuple[str, bytes]:
    """(content type, bytes) of a unit's 附图 stored as a data URI; ValueError when it is not a PNG/JPEG."""
    found = _PLAN_URI.fullmatch(plan)
    if found is None:
        raise ValueError("附图须为PNG或JPEG的data URI / the plan must be a data: URI of a PNG or JPEG")
    try:
        content = base64.b64decode(found.group(2), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("附图的base64编码有误 / the plan is not valid base64") from exc
    if len(content) > PLAN_MAX_BYTES:
        raise ValueError(f"附图超过{PLAN_MAX_BYTES // 1024 // 1024} MiB / the plan is too large")
    if not content.startswith(_PLAN_MAGIC[found.group(1)]):
        raise ValueError(f"附图内容不是{found.group(1)} / the plan's bytes are not {found.group(1)}")
    return found.group(1), content


class Unit(BaseModel):
    """A 不动产单元 as surveyed: its physical facts, not its rights.

    The register records a unit's 自然状况 (坐落, 面积, 用途 …; 不动产登记暂行条例 第8条); the building
    facts below are what the certificate prints under 权利其他状况, and the plan (分户图/宗地图) its 附图页.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_code: str  # 28 characters, GB/T 37346
    address: str  # 坐落
    floor_area: Decimal  # 房屋建筑面积, m²
    land_area: Decimal | None = None  # 共有宗地面积, m²
    land_use: str = "城镇住宅用地"  # 土地用途
    house_use: str = "住宅"  # 房屋用途
    right_type: str = "国有建设用地使用权/房屋所有权"
    right_nature: str = "出让/市场化商品房"
    land_term: str = ""  # 使用期限, e.g. 2005年07月01日起2075年06月30日止
    first_registered: bool = True  # 首次登记 done (a pre-sale flat is not, until the building is)
    # The day 首次登记 was recorded here (None: before the digital register): from it a 预告登记 can be
    # realised, and its 90 days run (民法典 §221).
    first_registered_on: date | None = None
    for_sale: bool = False  # a developer's flat open for 商品房买卖合同备案
    developer: Institution | None = None
    # Building facts, as the 房产测绘 surveyed them (printed under 权利其他状况).
    structure: str = ""  # 房屋结构, e.g. 钢筋混凝土结构
    total_floors: int | None = Field(default=None, ge=1, le=300)  # 总层数
    floor: str = Field(default="", max_length=20)  # 所在层: 12, 12-13 for a duplex, -1 for a basement
    exclusive_area: Decimal | None = Field(default=None, gt=0)  # 专有建筑面积 (套内), m²
    shared_area: Decimal | None = Field(default=None, ge=0)  # 分摊建筑面积, m²
    completed_on: date | None = None  # 房屋竣工时间
    land_terms: tuple[LandUseTerm, ...] = ()  # 土地使用期限 per land use (else `land_term`)
    # 附图 (分户图/宗地图): a PNG or JPEG as a data: URI, at most 2 MiB; printed on a second page.
    plan: str | None = None

    @field_validator("plan")
    @classmethod
    def _plan_is_an_image(cls, value: str | None) -> str | None:
        if value is not None:
            plan_image(value)
        return value

    @model_validator(mode="after")
    def _areas_add_up(self) -> Unit:
        if self.exclusive_area is not None and self.shared_area is not None:
            total = self.exclusive_area + self.shared_area
            if abs(total - self.floor_area) > _AREA_TOLERANCE:
                raise ValueError(
                    f"专有建筑面积与分摊建筑面积之和{total}不等于建筑面积{self.floor_area} / "
                    f"exclusive {self.exclusive_area} + shared {self.shared_area} is not the floor area "
                    f"{self.floor_area}"
                )
        return self


class EntryKind(StrEnum):
    OWNERSHIP = "ownership"  # 所有权 (不动产权)
    MORTGAGE = "mortgage"  # 抵押权
    PRE_REGISTRATION = "pre_registration"  # 预告登记 (预购商品房) and 预抵押
    SEIZURE = "seizure"  # 查封
    OBJECTION = "objection"  # 异议登记
    CONTRACT_FILING = "contract_filing"  # 商品房买卖合同备案


class MortgageKind(StrEnum):
    GENERAL = "general"  # 一般抵押: a definite claim and a term
    MAXIMUM = "maximum"  # 最高额抵押: a maximum amount and a claim-determination period

    @property
    def label_zh(self) -> str:
        return "一般抵押" if self is MortgageKind.GENERAL else "最高额抵押"


class OwnershipFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.OWNERSHIP] = EntryKind.OWNERSHIP
    owners: list[Owner] = Field(min_length=1)
    co_ownership: CoOwnership

    @property
    def parties(self) -> list[Party]:
        return [o.party for o in self.owners]


class MortgageFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.MORTGAGE] = EntryKind.MORTGAGE
    mortgagee: Institution
    mortgagors: list[Party] = Field(min_length=1)
    mortgage_kind: MortgageKind
    amount: Decimal  # 被担保主债权数额, or 最高债权额 for a maximum mortgage (元)
    term_start: date  # 债务履行期限 / 债权确定期间
    term_end: date
    loan_contract_no: str
    mortgage_contract_no: str = ""


class PreRegistrationKind(StrEnum):
    PURCHASE = "purchase"  # 预购商品房预告登记 (the buyer's claim to the flat)
    MORTGAGE = "mortgage"  # 预购商品房抵押权预告登记 (预抵押, the bank's)


class PreRegistrationFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.PRE_REGISTRATION] = EntryKind.PRE_REGISTRATION
    pre_kind: PreRegistrationKind
    buyers: list[Party] = Field(min_length=1)
    mortgagee: Institution | None = None  # for 预抵押
    amount: Decimal | None = None  # for 预抵押
    contract_no: str
    # The day the protected right can be registered, when the parties' agreement fixes it (a second-hand
    # sale's completion day); for a pre-sale flat it is the building's 首次登记. The 90 days of 民法典
    # §221 run from it.
    registrable_on: date | None = None


class SeizureFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.SEIZURE] = EntryKind.SEIZURE
    authority: str  # e.g. 东莞市第一人民法院
    document_no: str  # 协助执行通知书 number


class ObjectionFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.OBJECTION] = EntryKind.OBJECTION
    applicant: Party
    matter: str
    # The day of the 异议登记 when this entry succeeds an earlier one (a court's acceptance recorded);
    # None: the entry's own day. The 15 days of 民法典 §220 run from it.
    registered_on: date | None = None
    # The court's acceptance of the applicant's suit, which keeps the objection in force (§220).
    court: str | None = None
    court_case_no: str | None = None
    court_accepted_on: date | None = None


class ContractFilingFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal[EntryKind.CONTRACT_FILING] = EntryKind.CONTRACT_FILING
    contract_no: str
    developer: Institution
    buyers: list[Party] = Field(min_length=1)
    price: Decimal
    signed_on: date


EntryFacts = Annotated[
    OwnershipFacts
    | MortgageFacts
    | PreRegistrationFacts
    | SeizureFacts
    | ObjectionFacts
    | ContractFilingFacts,
    Field(discriminator="kind"),
]


class Entry(BaseModel):
    """One register entry: what it records, which case opened it and which (if any) closed it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    unit_code: str
    facts: EntryFacts
    opened_by_case: str | None  # None for entries migrated from the legacy register
    opened_at: datetime
    certificate_number: str | None = None  # 不动产权证书号 / 不动产登记证明号
    rank: int | None = None  # 抵押顺位
    closed_by_case: str | None = None
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def kind(self) -> EntryKind:
        return self.facts.kind


class RegisterView(BaseModel):
    """A unit and its open entries: what every rule reads. Built inside the transaction that acts on it."""

    model_config = ConfigDict(frozen=True)

    unit: Unit
    entries: list[Entry]

    def open_of(self, kind: EntryKind) -> list[Entry]:
        return [e for e in self.entries if e.is_open and e.kind is kind]

    @property
    def ownership(self) -> Entry | None:
        found = self.open_of(EntryKind.OWNERSHIP)
        return found[0] if found else None

    @property
    def owners(self) -> list[Party]:
        entry = self.ownership
        return entry.facts.parties if entry and isinstance(entry.facts, OwnershipFacts) else []

    @property
    def mortgages(self) -> list[Entry]:
        """Open mortgages in order of acceptance (实施细则 第67条): by the order number each was given at
        受理, then by 登簿."""
        return sorted(self.open_of(EntryKind.MORTGAGE), key=lambda e: (e.rank or 0, e.opened_at))

    def mortgage_rank(self, entry: Entry) -> int:
        """抵押顺位: the mortgage's place among the open mortgages on the register. A withdrawn or refused
        application and a released mortgage leave no hole."""
        return next(i for i, e in enumerate(self.mortgages, start=1) if e.id == entry.id)

    def mortgage_by_proof(self, proof_number: str) -> Entry | None:
        return next((e for e in self.mortgages if e.certificate_number == proof_number), None)

    @property
    def seizures(self) -> list[Entry]:
        return self.open_of(EntryKind.SEIZURE)

    @property
    def objections(self) -> list[Entry]:
        return self.open_of(EntryKind.OBJECTION)

    @property
    def pre_registrations(self) -> list[Entry]:
        return self.open_of(EntryKind.PRE_REGISTRATION)

    @property
    def filings(self) -> list[Entry]:
        return self.open_of(EntryKind.CONTRACT_FILING)
