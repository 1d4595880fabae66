"""东莞燃气 (gas) account transfers: a signed webhook with the gas company's own pinyin field names and
`retCode`s; it accepts (202) and reports the result later on the gateway's acknowledgement API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.utilities.webhook import REFUSAL_STATUSES, WebhookProvider, WebhookReply, refusal
from gateway.domain.parties import IdType
from gateway.errors import PartyUnavailable
from gateway.ports.utilities import AccountHolder, RefusalReason, UtilityOutcome, UtilityTransferJob

RET_OK = "0000"
RET_BUSY = "9001"  # 系统繁忙: try later
CODES = {
    "E101": RefusalReason.ACCOUNT_MISMATCH,  # 户号与地址不符
    "E102": RefusalReason.ARREARS,  # 存在欠费
    "E103": RefusalReason.VISIT_REQUIRED,  # 需到营业厅办理
}
# 证件类型 (zjlx) as the gas company codes it
ID_TYPES = {IdType.RESIDENT_ID: "01", IdType.CREDIT_CODE: "02", IdType.PASSPORT: "03"}
GHZT_DONE = "1"  # 过户状态: 已过户
GHZT_PENDING = "0"  # 受理中


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    retCode: str
    retMsg: str = ""
    slbh: str = ""  # 受理编号
    ghzt: str = GHZT_PENDING


def _yh(person: AccountHolder) -> dict[str, Any]:
    return {
        "uname": person.name,
        "zjlx": ID_TYPES[person.id_type],
        "zjhm": person.id_number,
        "sjhm": person.phone,
    }


class GasWebhookProvider(WebhookProvider):
    """舒城昆仑燃气-style names (huhao 户号, fromUsers 原户主, toUsers 新户主), one serial per delivery id."""

    def to_wire(self, job: UtilityTransferJob) -> dict[str, Any]:
        return {
            "serialNo": job.delivery_id,
            "ywlx": "3",  # 业务类型: 3 = 燃气
            "huhao": job.account_no,
            "dz": job.address,
            "bdcdyh": job.unit_code,
            "bdcqzh": job.certificate_number,
            "djsj": job.registered_at.strftime("%Y-%m-%d %H:%M:%S%z"),
            "fromUsers": [_yh(p) for p in job.sellers],
            "toUsers": [_yh(p) for p in job.buyers],
        }

    def from_wire(self, reply: WebhookReply) -> UtilityOutcome:
        answer = _Answer.model_validate(reply.body)
        if reply.status in REFUSAL_STATUSES or answer.retCode in CODES:
            return refusal(self.party, CODES, answer.retCode, answer.retMsg)
        if answer.retCode == RET_BUSY:
            raise PartyUnavailable(self.party, answer.retCode, answer.retMsg)
        if answer.retCode != RET_OK:
            return refusal(self.party, {}, answer.retCode, answer.retMsg)
        if answer.ghzt == GHZT_DONE:
            return UtilityOutcome.done(answer.slbh, answer.retMsg)
        return UtilityOutcome.later(reference=answer.slbh)
