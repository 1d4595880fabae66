"""Refused attempts (403, 409) by a known party or user, written to the audit log from the error middleware.

A registry has to be able to say who tried what and was turned away: a bank releasing another bank's
mortgage, an examiner approving without the role, a transfer of a seized flat. Only callers that proved who
they are (a signed request's participant, a signed-in user) are recorded; 401s are anonymous noise, and 404
and 422 are not decisions about the action. One insert, only on a refusal: the accepted path pays nothing.
The record holds the route's template (not the path, whose IDs are the caller's), the error code, the rule
names and reasons with any resident ID number masked, and the request id; never a body or a header.
"""

from __future__ import annotations

import re

from aiohttp import web

from gateway.api.keys import ACTOR, CONTAINER, PARTICIPANT, REQUEST_ID
from gateway.domain.identifiers import mask_id_number
from gateway.errors import GatewayError, RuleViolation
from gateway.logging import get_logger

__all__ = ["REFUSED_ACTION", "audit_refusal", "is_audited_refusal"]

log = get_logger("gateway.http")
REFUSED_ACTION = "request.refused"
_AUDITED_STATUSES = frozenset({403, 409})
# A concurrent repeat of a request still running is not a refusal of the action: the original is recorded.
_NOT_REFUSALS = frozenset({"idempotency_key_in_flight"})
# 18-character resident ID numbers (and the old 15-digit ones) wherever a reason happens to quote one.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
_MAX_REASON = 500


def is_audited_refusal(exc: GatewayError) -> bool:
    return exc.http_status in _AUDITED_STATUSES and exc.code not in _NOT_REFUSALS


def _caller(request: web.Request) -> str | None:
    participant = request.get(PARTICIPANT)
    if participant is not None:
        return f"party:{participant.code}"
    actor = request.get(ACTOR)
    return actor.audit_name if actor is not None else None


def _scrub(text: str) -> str:
    return _ID_NUMBER.sub(lambda match: mask_id_number(match.group(0)), text)[:_MAX_REASON]


async def audit_refusal(request: web.Request, exc: GatewayError) -> None:
    """Record `exc` refusing `request`, if the caller is known. A failure to record is logged, never raised:
    the caller still gets its 403 or 409 rather than a 500."""
    caller = _caller(request)
    if caller is None:
        return
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    details: dict[str, object] = {
        "status": exc.http_status,
        "code": exc.code,
        "reason_en": _scrub(exc.message_en),
        "reason_zh": _scrub(exc.message_zh),
        "request_id": request.get(REQUEST_ID, ""),
    }
    if isinstance(exc, RuleViolation):
        details["rules"] = [name for name, _, _ in exc.failures]
    case_id = request.match_info.get("case_id")
    try:
        async with request.app[CONTAINER].database.transaction() as uow:
            uow.audit(
                actor=caller,
                action=REFUSED_ACTION,
                subject=f"{request.method} {route}"[:200],
                case_id=case_id[:64] if case_id else None,
                details=details,
            )
    except Exception:
        log.exception("refused request not audited", code=exc.code, route=route)
