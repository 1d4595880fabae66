"""东莞供水 (water) account transfers: a signed JSON webhook in snake_case; 200 done, 202 accepted, 409/422 refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.utilities.webhook import REFUSAL_STATUSES, WebhookProvider, WebhookReply, refusal
from gateway.ports.utilities import AccountHolder, RefusalReason, UtilityOutcome, UtilityTransferJob

EVENT = "account.transfer"
# The provider's error codes are the gateway's own reason names: it adopted them when it joined.
CODES = {reason.value: reason for reason in RefusalReason}


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str
    reference: str = ""


class _Error(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    message: str = ""


class _Refusal(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error: _Error


def holder(person: AccountHolder) -> dict[str, Any]:
    return {
        "name": person.name,
        "id_type": person.id_type.value,
        "id_number": person.id_number,
        "phone": person.phone,
    }


class WaterWebhookProvider(WebhookProvider):
    """Sends the job as the gateway spells it, wrapped in an event envelope."""

    def to_wire(self, job: UtilityTransferJob) -> dict[str, Any]:
        return {
            "type": EVENT,
            "delivery_id": job.delivery_id,
            "data": {
                "service": job.service.value,
                "account_no": job.account_no,
                "address": job.address,
                "unit_code": job.unit_code,
                "certificate_number": job.certificate_number,
                "registered_at": job.registered_at.isoformat(),
                "sellers": [holder(p) for p in job.sellers],
                "buyers": [holder(p) for p in job.buyers],
            },
        }

    def from_wire(self, reply: WebhookReply) -> UtilityOutcome:
        if reply.status in REFUSAL_STATUSES:
            error = _Refusal.model_validate(reply.body).error
            return refusal(self.party, CODES, error.code, error.message)
        answer = _Answer.model_validate(reply.body)
        if answer.status == "done":
            return UtilityOutcome.done(answer.reference)
        if answer.status == "accepted":
            return UtilityOutcome.later(reference=answer.reference)
        return refusal(self.party, {}, f"status={answer.status}", "")
