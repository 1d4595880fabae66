"""The port to a utility provider (水电气网): an account-transfer job after 登簿 and the provider's answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AwareDatetime, Field, model_validator

from gateway.domain.parties import IdType
from gateway.ports.common import NonEmpty, PortModel


class UtilityService(StrEnum):
    WATER = "water"  # 供水
    POWER = "power"  # 供电
    GAS = "gas"  # 燃气
    NETWORK = "network"  # 宽带 / 有线电视

    @property
    def label_zh(self) -> str:
        return _SERVICE_ZH[self]


_SERVICE_ZH = {
    UtilityService.WATER: "供水",
    UtilityService.POWER: "供电",
    UtilityService.GAS: "燃气",
    UtilityService.NETWORK: "网络",
}


class DeliveryStyle(StrEnum):
    """How a provider receives its jobs: pushed to it, collected by it from the gateway's API, or handled by
    its staff in the provider portal (a provider without developers: no SM2 code to write)."""

    WEBHOOK = "webhook"  # a signed JSON POST (Standard Webhooks headers, SM2)
    SOAP = "soap"  # the provider's SOAP service (verify, then transfer)
    PULL = "pull"  # the provider lists, fetches and acknowledges its jobs over /api/v1/utility-jobs
    PORTAL = "portal"  # nothing pushed: its staff settle the jobs at /provider/jobs (the pull API may too)

    @property
    def waits(self) -> bool:
        """Nothing is sent: the job waits for the provider to come for it (pull API or portal)."""
        return self in (DeliveryStyle.PULL, DeliveryStyle.PORTAL)


class RefusalReason(StrEnum):
    """Why a provider refused a transfer: each needs the citizen, not a retry."""

    ACCOUNT_MISMATCH = "account_mismatch"  # 户号不符: the account is not at this address
    ARREARS = "arrears"  # 有欠费: the seller must settle first (供电营业规则 第29条)
    VISIT_REQUIRED = "visit_required"  # 需现场办理: the provider needs the citizen at its counter

    @property
    def label_zh(self) -> str:
        return _REASON_ZH[self]

    @property
    def label_en(self) -> str:
        return _REASON_EN[self]


_REASON_ZH = {
    RefusalReason.ACCOUNT_MISMATCH: "户号不符",
    RefusalReason.ARREARS: "有欠费",
    RefusalReason.VISIT_REQUIRED: "需现场办理",
}
_REASON_EN = {
    RefusalReason.ACCOUNT_MISMATCH: "the account number does not match the address",
    RefusalReason.ARREARS: "the account has unpaid bills",
    RefusalReason.VISIT_REQUIRED: "the provider needs the citizen at its counter",
}


class AccountHolder(PortModel):
    """原户主 (a seller) or 新户主 (a buyer): name, ID document and phone, as the provider records them."""

    name: NonEmpty
    id_type: IdType
    id_number: NonEmpty = Field(repr=False)  # never in a repr, so never in a log line by accident
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9-]{5,20}$", repr=False)


class UtilityTransferJob(PortModel):
    """What a provider needs to move an account to the buyer (domain.md §5), and nothing more.

    `delivery_id` is stable across retries and replays: the provider applies each one once.
    """

    delivery_id: NonEmpty
    service: UtilityService
    account_no: NonEmpty  # 户号
    address: NonEmpty  # 坐落
    unit_code: Annotated[str, Field(min_length=28, max_length=28)]  # 不动产单元号
    certificate_number: NonEmpty  # the buyer's new 不动产权证书号: the ground for the transfer
    registered_at: AwareDatetime  # 登簿时间: the transfer takes effect then
    sellers: tuple[AccountHolder, ...] = Field(min_length=1)
    buyers: tuple[AccountHolder, ...] = Field(min_length=1)


class OutcomeKind(StrEnum):
    DONE = "done"  # 过户完成
    REJECTED = "rejected"  # refused with a reason that needs the citizen
    LATER = "later"  # accepted (or waiting to be collected): the result comes by callback or poll


class UtilityOutcome(PortModel):
    """A provider's answer to one job. `provider_code` and `message` keep the provider's own words."""

    kind: OutcomeKind
    reason: RefusalReason | None = None
    provider_code: str = Field(default="", max_length=64)
    message: str = Field(default="", max_length=500)
    provider_reference: str = Field(default="", max_length=100)
    # For LATER: when the gateway should ask again (re-send the same delivery id) if no callback came.
    check_after_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _reason_only_when_rejected(self) -> UtilityOutcome:
        if (self.kind is OutcomeKind.REJECTED) != (self.reason is not None):
            raise ValueError("a reason travels with, and only with, a rejection")
        return self

    @classmethod
    def done(cls, reference: str = "", message: str = "") -> UtilityOutcome:
        return cls(kind=OutcomeKind.DONE, provider_reference=reference, message=message)

    @classmethod
    def rejected(cls, reason: RefusalReason, provider_code: str = "", message: str = "") -> UtilityOutcome:
        return cls(kind=OutcomeKind.REJECTED, reason=reason, provider_code=provider_code, message=message)

    @classmethod
    def later(cls, check_after_seconds: float | None = None, reference: str = "") -> UtilityOutcome:
        return cls(
            kind=OutcomeKind.LATER, check_after_seconds=check_after_seconds, provider_reference=reference
        )


@runtime_checkable
class UtilityProvider(Protocol):
    """A water, power, gas or network provider. Outages raise PartyUnavailable (with retry_after when the
    provider said so); a retired endpoint raises a PartyError whose code is "410"; a broken reply raises
    PartyProtocolError. Business refusals are outcomes, not exceptions: they are recorded on the case."""

    @property
    def party(self) -> str:
        """The provider's participant code, e.g. `dg-water`."""
        ...

    @property
    def style(self) -> DeliveryStyle: ...

    async def transfer(self, job: UtilityTransferJob) -> UtilityOutcome: ...
