"""Idempotency keys: claim with a conflicting INSERT, complete in the handler's own transaction, replay.

Semantics (draft-ietf-httpapi-idempotency-key-header, Stripe): a missing key is 400, the same key with
another request is 422, the same key while the first is still running is 409, and the same key after it
completed gets the stored response byte for byte, with no new effect. Keys are scoped per participant and
completed ones are kept for at least 24 h (`ApiSettings.idempotency_retention_hours`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.db import Database, UnitOfWork
from gateway.db.prepared import Prepared
from gateway.db.tables.api import IdempotencyRecord
from gateway.errors import BadRequest, Conflict, InputError
from gateway.security.sql import insert_for

__all__ = [
    "IdempotencyClaim",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "IdempotencyStore",
    "StoredResponse",
    "parse_idempotency_key",
]

_KEYS = IdempotencyRecord.__table__  # type: ignore[attr-defined]
IN_FLIGHT = "in_flight"
COMPLETED = "completed"
# An RFC 8941 sf-string holds printable ASCII; we also accept the bare token most clients send (a UUID).
_KEY_SHAPE = re.compile(r'^"?([\x20-\x21\x23-\x5b\x5d-\x7e]{1,255})"?$')


class IdempotencyKeyMissing(BadRequest):
    code = "idempotency_key_missing"


class IdempotencyKeyReused(InputError):
    code = "idempotency_key_reused"


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"


def parse_idempotency_key(header: str | None) -> str:
    """The key from the `Idempotency-Key` header (quotes of the structured-header form removed)."""
    if header is None or not header.strip():
        raise IdempotencyKeyMissing(
            "this request changes state and needs an Idempotency-Key header (a UUID is recommended)",
            "此请求会改变状态，须携带 Idempotency-Key 请求头（建议使用 UUID）",
        )
    match = _KEY_SHAPE.match(header.strip())
    if match is None:
        raise IdempotencyKeyMissing(
            "Idempotency-Key must be 1–255 printable ASCII characters",
            "Idempotency-Key 须为 1–255 个可打印 ASCII 字符",
        )
    return match.group(1)


@dataclass(frozen=True)
class StoredResponse:
    """A completed request's response, replayed exactly."""

    status: int
    body: bytes
    content_type: str


@dataclass
class IdempotencyClaim:
    """This request holds the key. Call `complete` inside the handler's transaction, next to its effect."""

    store: IdempotencyStore
    party: str
    key: str
    owner: str
    completed: bool = field(default=False)

    async def complete(self, uow: UnitOfWork, status: int, body: bytes, content_type: str) -> None:
        """Store the response in `uow`'s transaction, so the effect and the stored response commit together
        (queued: it runs at the commit, with the unit of work's other writes).

        Raises Conflict there (and so rolls the transaction back) if this request's claim was taken over
        after its lease ran out: the request that took over does the work, never both.
        """
        uow.update_one(
            self.store.completion_statement,
            self.store.completion_params(self, status, body, content_type),
            error=_taken_over,
        )

        def mark_completed() -> None:
            self.completed = True

        uow.after_commit(mark_completed)


def _taken_over() -> IdempotencyKeyInFlight:
    return IdempotencyKeyInFlight(
        "this request took too long and its Idempotency-Key was taken over by a retry",
        "本请求处理超时，其 Idempotency-Key 已由重试请求接管",
    )


class IdempotencyStore:
    """Idempotency keys on the gateway database (table `idempotency_key`)."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = 60,
        retention: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.retention = retention
        self._clock = clock or (lambda: datetime.now(UTC))
        # Built once: these run on every state-changing request, each alone (one round trip, gateway.db.prepared).
        self._insert = Prepared(
            insert_for(db.dialect, _KEYS).on_conflict_do_nothing(index_elements=["party", "key"])
        )
        this_key = and_(_KEYS.c.party == bindparam("p_party"), _KEYS.c.key == bindparam("p_key"))
        still_ours = and_(this_key, _KEYS.c.owner == bindparam("p_owner"), _KEYS.c.state == IN_FLIGHT)
        self._select = Prepared(select(_KEYS).where(this_key))
        take_over = update(_KEYS).where(still_ours).values(owner=bindparam("new_owner"))
        self._take_over = Prepared(take_over.values(lease_until=bindparam("new_lease")))
        self._complete = update(_KEYS).where(still_ours)
        self._complete = self._complete.values(
            state=COMPLETED,
            status_code=bindparam("status"),
            content_type=bindparam("ctype"),
            response_body=bindparam("body"),
            completed_at=bindparam("at"),
        )
        self._complete_alone = Prepared(self._complete)
        self._release = Prepared(delete(_KEYS).where(still_ours))

    async def claim(self, party: str, key: str, fingerprint: str) -> IdempotencyClaim | StoredResponse:
        """Claim `key` for this request, or return the stored response of the request that completed it.

        Raises IdempotencyKeyReused (422) for another request under the same key and
        IdempotencyKeyInFlight (409) while the first is still running.
        """
        now = self._clock()
        owner = secrets.token_hex(16)
        row: dict[str, object] = {"party": party, "key": key, "fingerprint": fingerprint, "state": IN_FLIGHT}
        row |= {"owner": owner, "lease_until": now + self.lease, "created_at": now}
        if await self._insert.execute_alone(self._db, row) == 1:
            return IdempotencyClaim(self, party, key, owner)
        rows = await self._select.fetch_alone(self._db, {"p_party": party, "p_key": key})
        if not rows:  # purged between our INSERT and SELECT: the caller simply retries
            raise IdempotencyKeyInFlight(
                "the Idempotency-Key was just released; retry", "该 Idempotency-Key 刚被释放，请重试"
            )
        found = rows[0]
        if found["fingerprint"] != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request",
                "该 Idempotency-Key 已用于内容不同的请求",
            )
        if found["state"] == COMPLETED:
            return StoredResponse(found["status_code"], bytes(found["response_body"]), found["content_type"])
        if found["lease_until"] <= now:
            # The first request's process died mid-way (its lease ran out): take the key over.
            taken = await self._take_over.execute_alone(
                self._db,
                {"p_party": party, "p_key": key, "p_owner": found["owner"], "new_owner": owner}
                | {"new_lease": now + self.lease},
            )
            if taken == 1:
                return IdempotencyClaim(self, party, key, owner)
        raise IdempotencyKeyInFlight(
            "a request with this Idempotency-Key is still being processed",
            "使用该 Idempotency-Key 的请求仍在处理中",
        )

    @property
    def completion_statement(self) -> Update:
        """The UPDATE that stores a response, if the claim is still the request's (built once)."""
        return self._complete

    def completion_params(
        self, claim: IdempotencyClaim, status: int, body: bytes, content_type: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"p_party": claim.party, "p_key": claim.key, "p_owner": claim.owner}
        return params | {"status": status, "ctype": content_type, "body": body, "at": self._clock()}

    async def store_response(
        self, conn: AsyncConnection, claim: IdempotencyClaim, status: int, body: bytes, content_type: str
    ) -> bool:
        """Turn `claim` into a stored response on `conn` (the handler's transaction); False if no longer ours."""
        params = self.completion_params(claim, status, body, content_type)
        return (await conn.execute(self._complete, params)).rowcount == 1

    async def complete_alone(
        self, claim: IdempotencyClaim, status: int, body: bytes, content_type: str
    ) -> None:
        """Store the response by itself (handlers that made no database effect of their own)."""
        params = self.completion_params(claim, status, body, content_type)
        if await self._complete_alone.execute_alone(self._db, params) == 1:
            claim.completed = True

    async def release(self, claim: IdempotencyClaim) -> None:
        """Forget an unfinished claim (the handler failed and rolled back), so a corrected retry may run."""
        params = {"p_party": claim.party, "p_key": claim.key, "p_owner": claim.owner}
        await self._release.execute_alone(self._db, params)

    async def purge_expired(self) -> int:
        """Delete keys older than the retention (the sweeper calls this); returns how many went."""
        cutoff = self._clock() - self.retention
        async with self._db.engine.begin() as conn:
            result = await conn.execute(delete(_KEYS).where(_KEYS.c.created_at < cutoff))
        return result.rowcount
