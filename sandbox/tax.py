"""A simulated tax bureau (e-tax, 存量房 and 增量房 交易): assessments by the rules, payments, signed callbacks.

It assesses with adapters/tax/rules.py at its own locality (the bureau knows where its units lie: 市区 for
the VAT surcharges) and posts a signed 'payment cleared' callback to the gateway.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
import pydantic
from aiohttp import web
from yarl import URL

import certs
from adapters.tax import rules
from gateway.errors import InputError
from gateway.ports import (
    HomeCount,
    Payer,
    Person,
    TaxKind,
    TaxLine,
    TransactionKind,
    TransferAssessmentRequest,
)
from sandbox.common import PartyServer, Reply
from sandbox.faults import Fault, FaultKind

# The bureau's own vocabulary (deliberately not imported from the adapter: the simulator is the spec).
HOME_COUNT_CODES = {"1": HomeCount.FIRST, "2": HomeCount.SECOND, "3": HomeCount.OTHER}
TRANSACTION_CODES = {"1": TransactionKind.SECOND_HAND, "2": TransactionKind.NEW_HOME}  # 交易类型
TAX_CODES = {
    TaxKind.VAT: "10101",
    TaxKind.INDIVIDUAL_INCOME_TAX: "10106",
    TaxKind.URBAN_MAINTENANCE_TAX: "10109",
    TaxKind.DEED_TAX: "10119",
    TaxKind.EDUCATION_SURCHARGE: "30203",
    TaxKind.LOCAL_EDUCATION_SURCHARGE: "30216",
}
PATHS = {"assess": "api/clf/v1/sbxx", "pay": "api/clf/v1/jkxx", "clearance": "api/clf/v1/wszt/{sbbh}"}
PAYER_CODES = {Payer.BUYER: "gf", Payer.SELLER: "sf"}


@dataclass
class AssessmentRecord:
    assessment_id: str
    case_id: str
    request: TransferAssessmentRequest
    lines: tuple[TaxLine, ...]
    total: Decimal
    assessed_at: datetime
    payments: dict[str, Decimal] = field(default_factory=dict)  # payment reference → amount
    voucher_number: str | None = None
    cleared_at: datetime | None = None

    @property
    def paid(self) -> Decimal:
        return sum(self.payments.values(), Decimal("0.00"))

    @property
    def outstanding(self) -> Decimal:
        return max(self.total - self.paid, Decimal("0.00"))

    @property
    def cleared(self) -> bool:
        return self.cleared_at is not None


def _envelope(code: str, message: str, body: dict[str, Any] | None = None) -> Reply:
    return Reply.json({"head": {"rtnCode": code, "rtnMsg": message}, "body": body})


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


class TaxBureauServer(PartyServer):
    """The bureau's state: assessments by 申报编号, payments by 缴款凭证号, callbacks sent."""

    kind = "tax"

    def __init__(
        self,
        *args: Any,
        callback_url: str | None = None,
        locality: rules.Locality = rules.Locality.URBAN,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.callback_url = callback_url
        self.locality = locality
        self.assessments: dict[str, AssessmentRecord] = {}
        self.callbacks_sent: list[tuple[str, int | None]] = []  # (delivery id, gateway's status or None)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def endpoint(self) -> str:
        return self.base_url + "/"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/" + PATHS["assess"], self.operation(self._assess))
        app.router.add_post("/" + PATHS["pay"], self.operation(self._pay))
        app.router.add_get("/" + PATHS["clearance"], self.operation(self._status))

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- operations ------------------------------------------------------------------------------------

    @staticmethod
    def _busy(fault: Fault | None) -> Reply | None:
        if fault is not None and fault.kind is FaultKind.BUSY:
            return _envelope("999", "系统繁忙，请稍后再试")
        return None

    async def _assess(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        try:
            data = json.loads(body)
            acquired = data.get("qdrq")
            transfer = TransferAssessmentRequest(
                case_id=data["ywbh"],
                transaction=TRANSACTION_CODES[data.get("jylx") or "1"],
                unit_code=data["bdcdyh"],
                contract_date=date.fromisoformat(data["htqdrq"]),
                price=Decimal(data["jyjg"]),
                area_m2=Decimal(data["jzmj"]),
                buyers=tuple(Person(name=p["xm"], id_number=p["zjhm"]) for p in data["gfxx"]),
                sellers=tuple(Person(name=p["xm"], id_number=p["zjhm"]) for p in data["sfxx"]),
                buyer_home_count=HOME_COUNT_CODES[data["gfjtzfts"]],
                seller_acquired_on=date.fromisoformat(acquired) if acquired else None,
                seller_sole_home=data.get("sfwyzf") == "Y",
                original_value=Decimal(data["fwyz"]) if data.get("fwyz") else None,
                deductible_costs=Decimal(data.get("hlfy") or "0.00"),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation, pydantic.ValidationError) as exc:
            return _envelope("E100", f"申报信息不完整或有误：{type(exc).__name__}")
        try:
            record = self.file_assessment(transfer)
        except InputError as exc:
            return _envelope("E101", exc.message_zh)
        return _envelope(
            "000",
            "核定成功",
            {
                "sbbh": record.assessment_id,
                "ywbh": record.case_id,
                "sbmx": [
                    {
                        "zsxm": TAX_CODES[line.kind],
                        "nsr": PAYER_CODES[line.payer],
                        "jsyj": _money(line.base),
                        "sl": str(line.rate),
                        "ynse": _money(line.amount),
                        "yj": line.rule,
                        "yjms": line.rule_zh,
                    }
                    for line in record.lines
                ],
                "hjse": _money(record.total),
                "hdsj": record.assessed_at.isoformat(),
            },
        )

    def file_assessment(self, transfer: TransferAssessmentRequest) -> AssessmentRecord:
        """Assess with the rules and keep the record (also how a transfer filed at the tax hall appears)."""
        lines = rules.assess_transfer(transfer, self.locality)
        record = AssessmentRecord(
            assessment_id=f"SB{datetime.now(UTC):%Y%m%d}{len(self.assessments) + 1:06d}",
            case_id=transfer.case_id,
            request=transfer,
            lines=lines,
            total=rules.total(lines),
            assessed_at=datetime.now(UTC).replace(microsecond=0),
        )
        self.assessments[record.assessment_id] = record
        if record.total == 0:
            self._clear(record)
        return record

    def _status_body(self, record: AssessmentRecord) -> dict[str, Any]:
        return {
            "sbbh": record.assessment_id,
            "wszt": "1" if record.cleared else "0",
            "yjje": _money(record.paid),
            "wjje": _money(record.outstanding),
            "wspzh": record.voucher_number,
            "wssj": record.cleared_at.isoformat() if record.cleared_at else None,
        }

    async def _pay(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        try:
            data = json.loads(body)
            record = self.assessments.get(data["sbbh"])
            reference, amount = data["jkpzh"], Decimal(data["jkje"])
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            return _envelope("E100", f"缴款信息有误：{type(exc).__name__}")
        if record is None:
            return _envelope("E404", "申报编号不存在")
        self.record_payment(record, reference, amount)
        return _envelope("000", "缴款信息已接收", self._status_body(record))

    async def _status(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        record = self.assessments.get(request.match_info["sbbh"])
        if record is None:
            return _envelope("E404", "申报编号不存在")
        return _envelope("000", "查询成功", self._status_body(record))

    # --- payments and callbacks --------------------------------------------------------------------------

    def record_payment(self, record: AssessmentRecord, reference: str, amount: Decimal) -> None:
        """Count a payment once per reference; clearing the assessment sends the callback (if configured)."""
        if reference in record.payments or record.cleared:
            return
        record.payments[reference] = amount
        if record.outstanding == 0:
            self._clear(record)

    def pay_at_counter(self, assessment_id: str, amount: Decimal | None = None) -> AssessmentRecord:
        """The taxpayer pays at the tax hall (outside the gateway): the gateway learns it by callback."""
        record = self.assessments[assessment_id]
        self.record_payment(
            record, f"DT{uuid.uuid4().hex[:16]}", record.outstanding if amount is None else amount
        )
        return record

    def _clear(self, record: AssessmentRecord) -> None:
        record.voucher_number = f"3441900{datetime.now(UTC):%y}{len(self.assessments):011d}"
        record.cleared_at = datetime.now(UTC).replace(microsecond=0)
        if self.callback_url:
            task = asyncio.get_running_loop().create_task(self.post_payment_cleared(record.assessment_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def callback_body(self, assessment_id: str) -> bytes:
        """The 'payment cleared' callback body; its id (tzid) is stable per assessment, so resends dedupe."""
        record = self.assessments[assessment_id]
        if record.cleared_at is None or record.voucher_number is None:
            raise RuntimeError(f"{assessment_id} is not cleared")
        payload = {
            "tzid": f"wscb-{record.assessment_id}",
            "sbbh": record.assessment_id,
            "ywbh": record.case_id,
            "wspzh": record.voucher_number,
            "yjje": _money(record.paid),
            "wssj": record.cleared_at.isoformat(),
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    async def post_payment_cleared(self, assessment_id: str) -> list[int | None]:
        """POST the signed callback to `callback_url` (twice with the same id if duplicates are injected);
        returns the gateway's statuses (None: no answer). The delivery id is stable per assessment."""
        record = self.assessments[assessment_id]
        if not self.callback_url or record.cleared_at is None or record.voucher_number is None:
            raise RuntimeError("nothing to report: no callback URL, or the assessment is not cleared")
        body = self.callback_body(assessment_id)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        url = URL(self.callback_url)
        statuses: list[int | None] = []
        for _ in range(2 if self.faults.duplicate_callbacks else 1):
            headers = certs.sign_request(self.key, self.code, "POST", url.raw_path_qs, body)
            headers["Content-Type"] = "application/json; charset=utf-8"
            # The gateway takes every callback once per key: the delivery id is the natural one.
            headers["Idempotency-Key"] = f"wscb-{record.assessment_id}"
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    statuses.append(response.status)
            except (aiohttp.ClientError, TimeoutError):
                statuses.append(None)
            self.callbacks_sent.append((f"wscb-{assessment_id}", statuses[-1]))
        return statuses
