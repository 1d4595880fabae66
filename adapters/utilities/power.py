"""东莞供电 (power) account transfers over its SOAP service, in two steps: Hy (核验: the account is at this
address) then Gh (过户), like the 南通 `jklx hy/gh` interface; `code` "0" is success."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.soap import SoapPartyAdapter
from gateway.domain.parties import IdType
from gateway.errors import PartyError, PartyProtocolError, PartyUnavailable
from gateway.ports.utilities import (
    AccountHolder,
    DeliveryStyle,
    RefusalReason,
    UtilityOutcome,
    UtilityTransferJob,
)

NAMESPACE = "http://yx.power.example.cn/sdqgh/v1"
YWLX_POWER = "2"  # 业务类型: 1 水 / 2 电 / 3 气
CODE_OK = "0"
CODE_BUSY = frozenset({"9999"})  # 系统繁忙
CODES = {
    "1001": RefusalReason.ACCOUNT_MISMATCH,  # 户号不符
    "1002": RefusalReason.ARREARS,  # 有欠费
    "1003": RefusalReason.VISIT_REQUIRED,  # 需现场办理
}
ZJZL = {IdType.RESIDENT_ID: "1", IdType.CREDIT_CODE: "2", IdType.PASSPORT: "3"}  # 证件种类


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    msg: str | None = None
    gdbh: str | None = None  # 工单编号
    cfbz: str | None = None  # 重复标志 Y: this serial was already applied


def _yh(person: AccountHolder) -> dict[str, Any]:
    return {
        "username": person.name,
        "zjzl": ZJZL[person.id_type],
        "usercard": person.id_number,
        "mobile": person.phone,
    }


class PowerSoapProvider(SoapPartyAdapter):
    """The power company's SdqGhService (see the shipped WSDL); both calls carry the delivery id."""

    WSDL = Path(__file__).with_name("power_transfer.wsdl")
    BINDING = f"{{{NAMESPACE}}}SdqGhSoapBinding"
    PARTY_KIND = "utility"

    @property
    def style(self) -> DeliveryStyle:
        return DeliveryStyle.SOAP

    def fault_hook(self, code: str, message: str) -> PartyError | None:
        if code.rpartition(":")[2] == "Server.Busy":
            return PartyUnavailable(self.party, code, message)
        return None

    def _result(self, raw: dict[str, Any]) -> UtilityOutcome | _Reply:
        reply = _Reply.model_validate(raw)
        if reply.code == CODE_OK:
            return reply
        if reply.code in CODE_BUSY:
            raise PartyUnavailable(self.party, reply.code, reply.msg or "")
        reason = CODES.get(reply.code)
        if reason is None:
            raise PartyProtocolError(
                self.party, f"code:{reply.code}", "a result code the WSDL does not define"
            )
        return UtilityOutcome.rejected(reason, provider_code=reply.code, message=reply.msg or "")

    async def transfer(self, job: UtilityTransferJob) -> UtilityOutcome:
        # Both steps are safe to repeat: Hy changes nothing and Gh is applied once per serialno.
        verified = await self.client.call(
            "Hy",
            self._result,
            idempotent=True,
            serialno=job.delivery_id,
            ywlx=YWLX_POWER,
            consno=job.account_no,
            address=job.address,
            bdcdyh=job.unit_code,
        )
        if isinstance(verified, UtilityOutcome):
            return verified
        transferred = await self.client.call(
            "Gh",
            self._result,
            idempotent=True,
            serialno=job.delivery_id,
            ywlx=YWLX_POWER,
            consno=job.account_no,
            address=job.address,
            bdcdyh=job.unit_code,
            bdcqzh=job.certificate_number,
            djsj=job.registered_at,
            olduser=[_yh(p) for p in job.sellers],
            newuser=[_yh(p) for p in job.buyers],
        )
        if isinstance(transferred, UtilityOutcome):
            return transferred
        return UtilityOutcome.done(transferred.gdbh or "", transferred.msg or "")
