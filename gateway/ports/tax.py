"""The port to the tax bureau: assess a transfer's taxes, take payment confirmations, answer clearance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AwareDatetime, Field, model_validator

from gateway.ports.common import Money, NonEmpty, Person, PortModel, PositiveMoney

AreaM2 = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2)]


class HomeCount(StrEnum):
    """Which home this purchase is for the buyer's family (buyer, spouse, minor children)."""

    FIRST = "first"  # 家庭唯一住房
    SECOND = "second"  # 家庭第二套住房
    OTHER = "other"  # 第三套及以上, or not housing relief-eligible


class TaxKind(StrEnum):
    DEED_TAX = "deed_tax"  # 契税 (buyer)
    VAT = "vat"  # 增值税 (seller)
    URBAN_MAINTENANCE_TAX = "urban_maintenance_tax"  # 城市维护建设税 (seller, on the VAT)
    EDUCATION_SURCHARGE = "education_surcharge"  # 教育费附加 (seller, on the VAT)
    LOCAL_EDUCATION_SURCHARGE = "local_education_surcharge"  # 地方教育附加 (seller, on the VAT)
    INDIVIDUAL_INCOME_TAX = "individual_income_tax"  # 个人所得税 (seller)


class TransactionKind(StrEnum):
    """Which market the sale is in: it decides which taxes are collected at registration."""

    SECOND_HAND = "second_hand"  # 存量房: an owner sells; deed tax, VAT and its surcharges, income tax
    NEW_HOME = "new_home"  # 增量房 (网签商品房): the developer sells; only the buyer's deed tax


class Payer(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class TransferAssessmentRequest(PortModel):
    """What the bureau needs to assess a home transfer: a second-hand sale (二手住房转移) or a new home bought
    from its developer (增量房). A new home has no seller's holding period: the developer's own VAT and
    corporate taxes are declared by the developer, not collected at registration."""

    case_id: NonEmpty
    transaction: TransactionKind = TransactionKind.SECOND_HAND
    unit_code: NonEmpty
    contract_date: date  # the rules in force on this date apply
    price: PositiveMoney  # 成交价格, VAT included
    area_m2: AreaM2  # 建筑面积
    buyers: tuple[Person, ...] = Field(min_length=1)
    sellers: tuple[Person, ...] = Field(min_length=1)
    buyer_home_count: HomeCount
    seller_acquired_on: date | None = None  # start of the seller's holding period (取得日期); second-hand
    seller_sole_home: bool = False  # 家庭唯一生活用房; with five full years held this is 满五唯一
    original_value: Money | None = None  # 房屋原值, only when the seller can prove it
    deductible_costs: Money = Decimal("0.00")  # 合理费用 (renovation, loan interest, fees) when proven

    @model_validator(mode="after")
    def _acquired_before_sale(self) -> TransferAssessmentRequest:
        if self.transaction is TransactionKind.SECOND_HAND:
            if self.seller_acquired_on is None:
                raise ValueError("seller_acquired_on is required for a second-hand sale")
            if self.seller_acquired_on > self.contract_date:
                raise ValueError("seller_acquired_on is after contract_date")
        return self


class TaxLine(PortModel):
    """One tax of an assessment with the rule that produced it."""

    kind: TaxKind
    payer: Payer
    base: Money  # 计税依据
    rate: Decimal  # 0.01 = 1 %
    amount: Money  # rounded half-up to the fen
    rule: NonEmpty  # stable rule id, e.g. deed_tax/2024-12-01/first_home/le_threshold
    rule_zh: str = ""  # the basis a clerk reads, e.g. 家庭唯一住房 ≤140㎡ 1%


class TaxAssessment(PortModel):
    assessment_id: NonEmpty  # the bureau's 申报编号
    case_id: NonEmpty
    contract_date: date
    lines: tuple[TaxLine, ...]
    total: Money
    assessed_at: AwareDatetime

    def line(self, kind: TaxKind) -> TaxLine:
        """The line of one tax kind. A second-hand sale carries deed tax, VAT and income tax (exempt ones
        at 0) and the VAT surcharges when VAT is due; a new home carries the deed tax only."""
        for line in self.lines:
            if line.kind is kind:
                return line
        raise KeyError(kind)


class TaxPayment(PortModel):
    """A payment taken for an assessment (e.g. collected at the bank counter), reported to the bureau."""

    assessment_id: NonEmpty
    payment_reference: NonEmpty  # the collecting channel's serial; the bureau dedupes on it
    amount: PositiveMoney
    paid_at: AwareDatetime
    channel: NonEmpty = "bank_counter"


class TaxClearance(PortModel):
    """Whether the transfer's taxes are paid (完税): 登簿 of a transfer needs `cleared` (契税法 第11条)."""

    assessment_id: NonEmpty
    cleared: bool
    paid: Money
    outstanding: Money
    voucher_number: str | None = None  # 完税凭证号
    cleared_at: AwareDatetime | None = None


class TaxPaymentCleared(PortModel):
    """The bureau's callback 'taxes paid': the payload after signature check, deduped on `delivery_id`."""

    delivery_id: NonEmpty
    assessment_id: NonEmpty
    case_id: NonEmpty
    voucher_number: NonEmpty
    paid: Money
    cleared_at: AwareDatetime


@runtime_checkable
class TaxBureau(Protocol):
    """The tax bureau. Refusals raise PartyRejected (the bureau's own code); outages PartyUnavailable."""

    @property
    def party(self) -> str:
        """The bureau's participant code, e.g. `tax-dg`."""
        ...

    async def assess(self, request: TransferAssessmentRequest) -> TaxAssessment: ...

    async def confirm_payment(self, payment: TaxPayment) -> TaxClearance: ...

    async def clearance(self, assessment_id: str) -> TaxClearance: ...

    def parse_payment_callback(self, body: bytes) -> TaxPaymentCleared:
        """Read the bureau's 'payment cleared' callback body (its signature already verified by the API);
        raises PartyProtocolError when the body is not what the bureau promised."""
        ...
