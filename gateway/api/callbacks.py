"""Callbacks from the parties (/callbacks/v1/): the tax bureau's payment cleared, a bank's confirmations, a
mortgagee's consent to the transfer of its mortgaged unit.

Signed like every participant request, deduplicated by Idempotency-Key and by the tracks themselves (a
repeated confirmation changes nothing).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.keys import CONTAINER, PARTICIPANT
from gateway.api.respond import Reply, services
from gateway.api.routing import CALLBACKS, endpoint, read_body, read_json
from gateway.domain.register import MortgageFacts
from gateway.domain.workflow import Case, Track
from gateway.errors import FieldReason, Forbidden, InputError, NotFound, PartyProtocolError
from gateway.ports.tax import TaxBureau, TaxPaymentCleared
from gateway.services import kept_mortgages, mortgagee_notices, tracks

__all__ = ["routes"]

routes = web.RouteTableDef()
TAGS = ("callbacks",)


class Acknowledged(BaseModel):
    case_id: str
    state: str
    accepted: bool = True


def _ack(case: Case) -> Acknowledged:
    return Acknowledged(case_id=case.id, state=case.state.value)


class ContractConfirmed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=64)
    confirmed: bool
    message: str = Field(default="", max_length=500)


class LoanSettled(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=64)
    proof_number: str = Field(min_length=1, max_length=64)
    settled: bool
    message: str = Field(default="", max_length=500)


def _tax_bureau(request: web.Request) -> TaxBureau:
    return request.app[CONTAINER].adapters.tax_bureau()


@routes.post(CALLBACKS + "tax/payment-cleared")
@endpoint(
    "Tax bureau: the transfer's taxes are paid (完税)",
    summary_zh="税务：完税回调",
    response=Acknowledged,
    request_content_type="application/json",
    tags=TAGS,
    errors=(403, 404),
)
async def tax_payment_cleared(request: web.Request) -> web.Response:
    participant = request[PARTICIPANT]
    bureau = _tax_bureau(request)
    if participant.kind != "tax" or participant.code != bureau.party:
        raise Forbidden("only the tax bureau may report tax payments", "只有税务机关可以回调完税信息")
    try:
        cleared: TaxPaymentCleared = bureau.parse_payment_callback(await read_body(request))
    except PartyProtocolError as exc:
        # The bureau is the caller here: its malformed body is its own 4xx, not a 502 of ours (which would
        # tell it to retry the same bytes for ever).
        raise InputError(
            "the body is not a payment-cleared callback in the tax bureau's agreed format",
            "回调内容不符合税务机关约定的完税回调格式",
            [FieldReason("body", "不符合约定格式", "not in the agreed format")],
        ) from exc
    reply = Reply(request, _ack)
    await tracks.record_tax_cleared(
        services(request),
        cleared.case_id,
        cleared.model_dump(mode="json"),
        f"tax:{participant.code}",
        finish=reply,
    )
    return reply.response()


@routes.post(CALLBACKS + "banks/contract-confirmed")
@endpoint(
    "Bank: the case's loan and mortgage contracts are confirmed (or not)",
    summary_zh="银行：合同核验回调",
    request=ContractConfirmed,
    response=Acknowledged,
    tags=TAGS,
    errors=(404,),
)
async def contract_confirmed(request: web.Request) -> web.Response:
    body = await read_json(request, ContractConfirmed)
    party = request[PARTICIPANT].code
    ctx = services(request)
    async with ctx.reading() as store:
        await store.load_case(body.case_id, party=party)  # a bank confirms only its own cases (404 otherwise)
    reply = Reply(request, _ack)
    await tracks.record_bank_result(
        ctx,
        body.case_id,
        "contracts",
        confirmed=body.confirmed,
        actor=f"bank:{party}",
        message=body.message,
        finish=reply,
    )
    return reply.response()


@routes.post(CALLBACKS + "banks/loan-settled")
@endpoint(
    "Bank: the seller's loan is settled (for a release in a transfer)",
    summary_zh="银行：贷款结清回调",
    request=LoanSettled,
    response=Acknowledged,
    tags=TAGS,
    errors=(404,),
)
async def loan_settled(request: web.Request) -> web.Response:
    body = await read_json(request, LoanSettled)
    party = request[PARTICIPANT].code
    ctx = services(request)
    async with ctx.reading() as store:
        case = await store.load_case(body.case_id)
        mortgage = next(
            (e for e in await store.entries_of(case.unit_code) if e.certificate_number == body.proof_number),
            None,
        )
    # Only the mortgagee of record answers for its mortgage; anyone else learns nothing (404).
    if (
        mortgage is None
        or not isinstance(mortgage.facts, MortgageFacts)
        or mortgage.facts.mortgagee.code != party
    ):
        raise NotFound(f"case {body.case_id} not found", f"未找到业务件 {body.case_id}")
    reply = Reply(request, _ack)
    await tracks.record_bank_result(
        ctx,
        body.case_id,
        f"settlement:{body.proof_number}",
        confirmed=body.settled,
        actor=f"bank:{party}",
        message=body.message,
        finish=reply,
    )
    return reply.response()


class MortgageTransferConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(min_length=1, max_length=64)
    proof_number: str = Field(min_length=1, max_length=64)  # 不动产登记证明号 of the bank's mortgage
    consented: bool
    message: str = Field(default="", max_length=500)


@routes.post(CALLBACKS + "banks/mortgage-transfer-consent")
@endpoint(
    "Mortgagee of record: it consents (or not) to the transfer of its mortgaged unit (带押过户, 民法典 §406)",
    summary_zh="抵押权人：同意（或不同意）抵押财产转让回调",
    request=MortgageTransferConsent,
    response=Acknowledged,
    tags=TAGS,
    errors=(404,),
)
async def mortgage_transfer_consent(request: web.Request) -> web.Response:
    body = await read_json(request, MortgageTransferConsent)
    party = request[PARTICIPANT].code
    ctx = services(request)
    async with ctx.reading() as store:
        case = await store.load_case(body.case_id)
    bank = case.tracks.get(Track.BANK)
    kept = bank.detail.get(mortgagee_notices.KEPT, {}).get(body.proof_number) if bank else None
    # Only the mortgagee of record of a mortgage this transfer keeps answers; anyone else learns nothing.
    if kept is None or kept.get("mortgagee") != party:
        raise NotFound(f"case {body.case_id} not found", f"未找到业务件 {body.case_id}")
    reply = Reply(request, _ack)
    await kept_mortgages.record_consent(
        ctx,
        body.case_id,
        body.proof_number,
        consented=body.consented,
        actor=f"bank:{party}",
        message=body.message,
        finish=reply,
    )
    return reply.response()
