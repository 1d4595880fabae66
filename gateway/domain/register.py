"""The register (登记簿): units and the entries recorded on them. Entries are opened and closed, never edited."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.parties import CoOwnership, Institution, Owner, Party


class Unit(BaseModel):
    """A 不动产单元 as surveyed: its physical facts, not its rights."""

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
