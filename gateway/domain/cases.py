"""The five case kinds (业务类型) and what a bank counter submits for each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gateway.domain.identifiers import UnitCode
from gateway.domain.parties import CoOwnership, Institution, Owner, Party
from gateway.domain.register import MortgageKind

Money = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]


class CaseKind(StrEnum):
    MORTGAGE_REGISTRATION = "mortgage_registration"  # 抵押权首次登记
    MORTGAGE_RELEASE = "mortgage_release"  # 抵押权注销登记
    TRANSFER = "transfer"  # 转移登记
    PRESALE_MORTGAGE_CONVERSION = "presale_mortgage_conversion"  # 按揭转抵押 (预抵押 → 抵押权)
    CONTRACT_FILING = "contract_filing"  # 商品房买卖合同登记备案

    @property
    def label_zh(self) -> str:
        return _KIND_ZH[self]


_KIND_ZH = {
    CaseKind.MORTGAGE_REGISTRATION: "抵押权首次登记",
    CaseKind.MORTGAGE_RELEASE: "抵押权注销登记",
    CaseKind.TRANSFER: "转移登记",
    CaseKind.PRESALE_MORTGAGE_CONVERSION: "按揭转抵押",
    CaseKind.CONTRACT_FILING: "商品房买卖合同备案",
}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    unit_code: UnitCode


class MortgageTerms(BaseModel):
    """A mortgage as the bank asks for it (一般 or 最高额)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mortgage_kind: MortgageKind = MortgageKind.GENERAL
    amount: Money  # 被担保主债权数额 / 最高债权额, 元
    term_start: date
    term_end: date
    loan_contract_no: str = Field(min_length=3, max_length=64)
    mortgage_contract_no: str = Field(min_length=3, max_length=64)

    @model_validator(mode="after")
    def _term(self) -> Self:
        if self.term_end <= self.term_start:
            raise ValueError("term_end must be after term_start / 债务履行期限的结束日期须晚于开始日期")
        return self


class MortgageRegistrationInput(_Input):
    kind: Literal[CaseKind.MORTGAGE_REGISTRATION] = CaseKind.MORTGAGE_REGISTRATION
    ownership_certificate_number: str  # 原不动产权证书号
    mortgagors: list[Party] = Field(min_length=1)
    mortgage: MortgageTerms


class MortgageReleaseInput(_Input):
    kind: Literal[CaseKind.MORTGAGE_RELEASE] = CaseKind.MORTGAGE_RELEASE
    proof_number: str  # the 不动产登记证明号 of the mortgage to cancel
    reason: Literal["debt_repaid", "mortgage_waived", "other"] = "debt_repaid"  # 主债权消灭 / 放弃抵押权


class UtilityAccount(BaseModel):
    """A utility account (户号) the seller holds at this address, to be moved to the buyer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=2, max_length=40)  # participant code, e.g. dg-water
    service: Literal["water", "power", "gas", "network"]
    account_no: str = Field(min_length=3, max_length=40)


class TransferType(StrEnum):
    SECOND_HAND = "second_hand"  # 二手房: the seller is a person
    NEW_HOME = "new_home"  # 网签增量商品房: the seller is the developer, ending its 预告登记
    # 按份共有人转让其份额 (民法典 §305): the sellers are some of the co-owners, the buyers get their shares
    CO_OWNER_SHARE = "co_owner_share"


class TransferInput(_Input):
    kind: Literal[CaseKind.TRANSFER] = CaseKind.TRANSFER
    transfer_type: TransferType = TransferType.SECOND_HAND
    ownership_certificate_number: str | None = None  # the seller's; None for a new home
    sellers: list[Party] = Field(min_length=1)
    buyers: list[Owner] = Field(min_length=1)
    co_ownership: CoOwnership
    price: Money
    contract_no: str = Field(min_length=3, max_length=64)
    contract_date: date
    # Facts the tax bureau assesses on (契税 / 增值税 / 个人所得税)
    buyer_home_count: Literal[1, 2, 3] = 1  # 家庭第几套住房 (3 = third or more)
    seller_acquired_on: date | None = None  # start of the holding period
    seller_original_value: Money | None = None  # 房屋原值, when the seller can prove it (else 核定征收)
    seller_only_home: bool = False  # 家庭唯一生活用房 (for 满五唯一)
    # The seller's mortgages: released in this case (their proof numbers), or kept (带押过户, 民法典 §406):
    # a kept mortgage follows the unit and its mortgagee of record is told. `mortgagee_consent`: the parties
    # agreed the transfer needs that mortgagee's consent, which it then gives itself (its signed callback).
    release_proof_numbers: list[str] = Field(default_factory=list)
    mortgagee_consent: bool = False
    # The buyer's new mortgage (转移+抵押 合并), granted by the submitting bank.
    new_mortgage: MortgageTerms | None = None
    utilities: list[UtilityAccount] = Field(default_factory=list, max_length=8)

    @field_validator("seller_acquired_on")
    @classmethod
    def _acquired_by_the_contract(cls, value: date | None, info: ValidationInfo) -> date | None:
        # The holding period runs from the acquisition to the contract date (增值税: 财税〔2016〕36号;
        # 个人所得税: 财税字〔1999〕278号); an acquisition after the sale can never be assessed, so it is
        # refused here, at 受理, rather than by the tax job later.
        contract_date = info.data.get("contract_date")
        if value is not None and contract_date is not None and value > contract_date:
            raise PydanticCustomError(
                "acquired_after_contract",
                "{reason_en} / {reason_zh}",
                {
                    "reason_en": f"seller_acquired_on ({value}) is after contract_date ({contract_date})",
                    "reason_zh": f"出卖人取得日期（{value}）晚于买卖合同签订日期（{contract_date}）",
                },
            )
        return value

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if self.transfer_type is TransferType.CO_OWNER_SHARE:
            check_share_transfer(self)
        else:
            check_shares(self.co_ownership, self.buyers)
        if self.transfer_type is not TransferType.NEW_HOME:
            if not self.ownership_certificate_number:
                raise ValueError(
                    "ownership_certificate_number is required for a second-hand transfer / 二手房转移须填写原不动产权证书号"
                )
            if self.seller_acquired_on is None:
                raise ValueError(
                    "seller_acquired_on is required for a second-hand transfer (VAT and income tax depend on it) "
                    "/ 二手房转移须填写出卖人取得日期（增值税、个人所得税按持有年限计征）"
                )
        return self


class PresaleMortgageConversionInput(_Input):
    kind: Literal[CaseKind.PRESALE_MORTGAGE_CONVERSION] = CaseKind.PRESALE_MORTGAGE_CONVERSION
    buyers: list[Party] = Field(min_length=1)
    pre_mortgage_contract_no: str  # the contract recorded with the 预抵押
    mortgage: MortgageTerms


class ContractFilingInput(_Input):
    kind: Literal[CaseKind.CONTRACT_FILING] = CaseKind.CONTRACT_FILING
    contract_no: str = Field(min_length=3, max_length=64)
    developer: Institution
    buyers: list[Party] = Field(min_length=1)
    price: Money
    signed_on: date


CaseInput = Annotated[
    MortgageRegistrationInput
    | MortgageReleaseInput
    | TransferInput
    | PresaleMortgageConversionInput
    | ContractFilingInput,
    Field(discriminator="kind"),
]


def check_shares(co_ownership: CoOwnership, owners: list[Owner]) -> None:
    """按份共有 needs shares adding up to exactly 1 (fractions: three thirds do); 单独所有 exactly one owner;
    共同共有 no shares (民法典 第二百九十七条、第二百九十八条)."""
    shares = [o.share for o in owners]
    if co_ownership is CoOwnership.SOLE and len(owners) != 1:
        raise ValueError("sole ownership has exactly one owner / 单独所有只能有一个权利人")
    if co_ownership is CoOwnership.SHARES:
        if any(s is None for s in shares) or sum(s for s in shares if s is not None) != 1:
            raise ValueError("shares must be given and add up to 1 / 按份共有的份额须填写且合计为1")
    elif any(s is not None for s in shares):
        raise ValueError("shares apply only to 按份共有 / 只有按份共有填写份额")
    if len(owners) != len({o.party.identity for o in owners}):
        raise ValueError("an owner is listed twice / 权利人重复")


def check_share_transfer(inp: TransferInput) -> None:
    """A co-owner's share transfer (民法典 §305) names the share each buyer takes; what they add up to is
    checked against the register (the sellers' recorded shares) by the rules. It moves only the share:
    no new mortgage, no release, no utility account change in the same case."""
    if inp.co_ownership is not CoOwnership.SHARES:
        raise ValueError(
            "a co-owner's share transfer leaves the unit in shares: co_ownership must be shares "
            "/ 转让共有份额后仍为按份共有，共有情况须为按份共有"
        )
    if any(b.share is None for b in inp.buyers):
        raise ValueError("each buyer's share must be given / 须填写每个受让人取得的份额")
    if sum(b.share for b in inp.buyers if b.share is not None) > 1:
        raise ValueError("the buyers' shares add up to more than 1 / 受让份额合计超过1")
    if len(inp.buyers) != len({b.party.identity for b in inp.buyers}):
        raise ValueError("an owner is listed twice / 权利人重复")
    if inp.new_mortgage or inp.release_proof_numbers or inp.utilities:
        raise ValueError(
            "a share transfer carries no new mortgage, release or utility transfer "
            "/ 共有份额转让不同时办理抵押、注销抵押或水电气网过户"
        )
