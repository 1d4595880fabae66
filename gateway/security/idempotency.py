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

from sqlalchemy import Update, and_, delete, select, update

from gateway.db import Database, UnitOfWork
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
        """Store the response in `uow`'s transaction, so the effect and the stored response commit together.

        Raises Conflict (and so rolls the transaction back) if this request's claim was taken over after
        its lease ran out: the request that took over does the work, never both.
        """
        conn = await uow.session.connection()
        stored = await conn.execute(self.store.completion(self, status, body, content_type))
        if stored.rowcount != 1:
            raise IdempotencyKeyInFlight(
                "this request took too long and its Idempotency-Key was taken over by a retry",
                "本请求处理超时，其 Idempotency-Key 已由重试请求接管",
            )

        def mark_completed() -> None:
            self.completed = True

        uow.after_commit(mark_completed)


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

    async def claim(self, party: str, key: str, fingerprint: str) -> IdempotencyClaim | StoredResponse:
        """Claim `key` for this request, or return the stored response of the request that completed it.

        Raises IdempotencyKeyReused (422) for another request under the same key and
        IdempotencyKeyInFlight (409) while the first is still running.
        """
        now = self._clock()
        owner = secrets.token_hex(16)
        claim = (
            insert_for(self._db.dialect, _KEYS)
            .values(
                party=party,
                key=key,
                fingerprint=fingerprint,
                state=IN_FLIGHT,
                owner=owner,
                lease_until=now + self.lease,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["party", "key"])
        )
        async with self._db.engine.begin() as conn:
            if (await conn.execute(claim)).rowcount == 1:
                return IdempotencyClaim(self, party, key, owner)
            row = (
                await conn.execute(select(_KEYS).where(and_(_KEYS.c.party == party, _KEYS.c.key == key)))
            ).one_or_none()
            if row is None:  # purged between our INSERT and SELECT: the caller simply retries
                raise IdempotencyKeyInFlight(
                    "the Idempotency-Key was just released; retry", "该 Idempotency-Key 刚被释放，请重试"
                )
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used with a different request",
                    "该 Idempotency-Key 已用于内容不同的请求",
                )
            if row.state == COMPLETED:
                return StoredResponse(row.status_code, bytes(row.response_body), row.content_type)
            if row.lease_until > now:
                raise IdempotencyKeyInFlight(
                    "a request with this Idempotency-Key is still being processed",
                    "使用该 Idempotency-Key 的请求仍在处理中",
                )
            # The first request's process died mid-way (its lease ran out): take the key over.
            taken = await conn.execute(
                update(_KEYS)
                .where(and_(_KEYS.c.party == party, _KEYS.c.key == key, _KEYS.c.owner == row.owner))
                .where(_KEYS.c.state == IN_FLIGHT)
                .values(owner=owner, lease_until=now + self.lease)
            )
        if taken.rowcount != 1:
            raise IdempotencyKeyInFlight(
                "a request with this Idempotency-Key is still being processed",
                "使用该 Idempotency-Key 的请求仍在处理中",
            )
        return IdempotencyClaim(self, party, key, owner)

    def completion(self, claim: IdempotencyClaim, status: int, body: bytes, content_type: str) -> Update:
        """The UPDATE that turns `claim` into a stored response (only while the claim is still ours)."""
        return (
            update(_KEYS)
            .where(and_(_KEYS.c.party == claim.party, _KEYS.c.key == claim.key, _KEYS.c.owner == claim.owner))
            .where(_KEYS.c.state == IN_FLIGHT)
            .values(
                state=COMPLETED,
                status_code=status,
                content_type=content_type,
                response_body=body,
                completed_at=self._clock(),
            )
        )

    async def complete_alone(
        self, claim: IdempotencyClaim, status: int, body: bytes, content_type: str
    ) -> None:
        """Store the response in a transaction of its own (handlers that made no database effect)."""
        async with self._db.transaction() as uow:
            await claim.complete(uow, status, body, content_type)

    async def release(self, claim: IdempotencyClaim) -> None:
        """Forget an unfinished claim (the handler failed and rolled back), so a corrected retry may run."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                delete(_KEYS).where(
                    and_(
                        _KEYS.c.party == claim.party,
                        _KEYS.c.key == claim.key,
                        _KEYS.c.owner == claim.owner,
                        _KEYS.c.state == IN_FLIGHT,
                    )
                )
            )

    async def purge_expired(self) -> int:
        """Delete keys older than the retention (the sweeper calls this); returns how many went."""
        cutoff = self._clock() - self.retention
        async with self._db.engine.begin() as conn:
            result = await conn.execute(delete(_KEYS).where(_KEYS.c.created_at < cutoff))
        return result.rowcount
