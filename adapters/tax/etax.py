"""The tax bureau's e-tax REST API for home transfers (存量房 and 增量房 交易), behind the TaxBureau port.

Pinyin field names in a {"head": {"rtnCode": "000", …}, "body": …} envelope; taxes by their national 税种 codes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic import AwareDatetime, BaseModel, ConfigDict

from adapters.errors import UnexpectedStatus, map_party_errors
from adapters.rest import JsonReply, RestPartyAdapter, decode_json
from gateway.errors import PartyRejected, PartyUnavailable
from gateway.ports import (
    HomeCount,
    Payer,
    Person,
    TaxAssessment,
    TaxClearance,
    TaxKind,
    TaxLine,
    TaxPayment,
    TaxPaymentCleared,
    TransactionKind,
    TransferAssessmentRequest,
)

RTN_OK = "000"
RTN_BUSY = frozenset({"999", "998"})  # 系统繁忙 / 金税系统维护: try later
# National 税种 / 费种 codes [K]: 10101 增值税, 10106 个人所得税, 10109 城市维护建设税, 10119 契税,
# 30203 教育费附加, 30216 地方教育附加.
TAX_CODES = {
    TaxKind.VAT: "10101",
    TaxKind.INDIVIDUAL_INCOME_TAX: "10106",
    TaxKind.URBAN_MAINTENANCE_TAX: "10109",
    TaxKind.DEED_TAX: "10119",
    TaxKind.EDUCATION_SURCHARGE: "30203",
    TaxKind.LOCAL_EDUCATION_SURCHARGE: "30216",
}
TAX_KINDS = {code: kind for kind, code in TAX_CODES.items()}
PAYERS = {"gf": Payer.BUYER, "sf": Payer.SELLER}  # 购房方 / 售房方
HOME_COUNTS = {HomeCount.FIRST: "1", HomeCount.SECOND: "2", HomeCount.OTHER: "3"}
TRANSACTIONS = {TransactionKind.SECOND_HAND: "1", TransactionKind.NEW_HOME: "2"}  # 交易类型: 存量房 / 增量房
PATHS = {
    "assess": "api/clf/v1/sbxx",  # 申报信息: submit the transaction, get the assessment
    "pay": "api/clf/v1/jkxx",  # 缴款信息: report a payment
    "clearance": "api/clf/v1/wszt/{sbbh}",  # 完税状态
}


class _Head(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rtnCode: str
    rtnMsg: str = ""


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    head: _Head
    body: dict[str, Any] | None = None


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore")

    zsxm: str  # 征收项目 (税种代码)
    nsr: str  # 纳税人: gf / sf
    jsyj: Decimal  # 计税依据
    sl: Decimal  # 税率
    ynse: Decimal  # 应纳税额
    yj: str  # 依据 (rule id)
    yjms: str = ""  # 依据描述


class _Assessment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sbbh: str  # 申报编号
    ywbh: str  # 业务编号 (our case id)
    sbmx: list[_Line]  # 申报明细
    hjse: Decimal  # 合计税额
    hdsj: AwareDatetime  # 核定时间


class _Clearance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sbbh: str
    wszt: str  # 完税状态: 1 已完税, 0 未完税
    yjje: Decimal  # 已缴金额
    wjje: Decimal  # 未缴金额
    wspzh: str | None = None  # 完税凭证号
    wssj: AwareDatetime | None = None  # 完税时间


class _Callback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tzid: str  # 通知编号: the same on every resend
    sbbh: str
    ywbh: str
    wspzh: str
    yjje: Decimal
    wssj: AwareDatetime


def _people(people: tuple[Person, ...]) -> list[dict[str, str]]:
    return [{"xm": p.name, "zjhm": p.id_number} for p in people]


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _day(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class EtaxBureau(RestPartyAdapter):
    """The e-tax bureau behind the TaxBureau port."""

    PARTY_KIND = "tax"

    def _body(self, reply: JsonReply) -> dict[str, Any]:
        if reply.status != 200:
            raise UnexpectedStatus(reply.status)
        envelope = _Envelope.model_validate(reply.body)
        code, message = envelope.head.rtnCode, envelope.head.rtnMsg
        if code == RTN_OK:
            return envelope.body or {}
        if code in RTN_BUSY:
            raise PartyUnavailable(self.party, code, message)
        raise PartyRejected(self.party, code, message)

    def _clearance(self, reply: JsonReply) -> TaxClearance:
        data = _Clearance.model_validate(self._body(reply))
        return TaxClearance(
            assessment_id=data.sbbh,
            cleared=data.wszt == "1",
            paid=data.yjje,
            outstanding=data.wjje,
            voucher_number=data.wspzh,
            cleared_at=data.wssj,
        )

    async def assess(self, request: TransferAssessmentRequest) -> TaxAssessment:
        def parse(reply: JsonReply) -> TaxAssessment:
            data = _Assessment.model_validate(self._body(reply))
            lines = tuple(
                TaxLine(
                    kind=TAX_KINDS[line.zsxm],
                    payer=PAYERS[line.nsr],
                    base=line.jsyj,
                    rate=line.sl,
                    amount=line.ynse,
                    rule=line.yj,
                    rule_zh=line.yjms,
                )
                for line in data.sbmx
                if line.zsxm in TAX_KINDS and line.nsr in PAYERS
            )
            if len(lines) != len(data.sbmx):
                raise PartyRejected(self.party, "unknown_tax_code", "申报明细含未知税种")
            return TaxAssessment(
                assessment_id=data.sbbh,
                case_id=data.ywbh,
                contract_date=request.contract_date,
                lines=lines,
                total=data.hjse,
                assessed_at=data.hdsj,
            )

        payload = {
            "ywbh": request.case_id,
            "bdcdyh": request.unit_code,
            "jylx": TRANSACTIONS[request.transaction],
            "htqdrq": _day(request.contract_date),
            "jyjg": _money(request.price),
            "jzmj": f"{request.area_m2:.2f}",
            "gfxx": _people(request.buyers),
            "sfxx": _people(request.sellers),
            "gfjtzfts": HOME_COUNTS[request.buyer_home_count],
            "qdrq": _day(request.seller_acquired_on),  # null for a new home: no holding period
            "sfwyzf": "Y" if request.seller_sole_home else "N",
            "fwyz": _money(request.original_value),
            "hlfy": _money(request.deductible_costs),
        }
        # Each submission opens a new 申报: not repeated in-call (the outbox decides, with the case id).
        return await self.client.call(
            "POST", self.client.url(PATHS["assess"]), payload, parse, idempotent=False
        )

    async def confirm_payment(self, payment: TaxPayment) -> TaxClearance:
        payload = {
            "sbbh": payment.assessment_id,
            "jkpzh": payment.payment_reference,
            "jkje": _money(payment.amount),
            "jksj": payment.paid_at.isoformat(),
            "jkqd": payment.channel,
        }
        # The bureau dedupes on 缴款凭证号 (jkpzh), so a resend cannot count a payment twice.
        url = self.client.url(PATHS["pay"])
        return await self.client.call("POST", url, payload, self._clearance, idempotent=True)

    async def clearance(self, assessment_id: str) -> TaxClearance:
        url = self.client.url(PATHS["clearance"].format(sbbh=quote(assessment_id, safe="")))
        return await self.client.call("GET", url, None, self._clearance, idempotent=True)

    def parse_payment_callback(self, body: bytes) -> TaxPaymentCleared:
        with map_party_errors(self.party):
            data = _Callback.model_validate(decode_json(body))
            return TaxPaymentCleared(
                delivery_id=data.tzid,
                assessment_id=data.sbbh,
                case_id=data.ywbh,
                voucher_number=data.wspzh,
                paid=data.yjje,
                cleared_at=data.wssj,
            )
