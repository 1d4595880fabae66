"""The request-nonce store on the database, for deployments without Redis (one row per used nonce)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam

from gateway.db import Database
from gateway.db.prepared import Prepared
from gateway.db.retention import delete_in_batches
from gateway.db.tables.api import RequestNonce
from gateway.security.sql import insert_for

__all__ = ["DatabaseNonceStore"]

_NONCES = RequestNonce.__table__  # type: ignore[attr-defined]


class DatabaseNonceStore:
    """`certs.NonceStore` on a unique (party, nonce) row; shared by every gateway process on that database.

    A row whose TTL has passed may be claimed again (as with Redis `SET NX EX`); by then the request's
    timestamp is far outside the skew window, so the verifier has already refused it as stale.
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))
        insert = insert_for(db.dialect, _NONCES)
        # Conflict on (party, nonce): take the row over only if it has expired; otherwise nothing changes
        # and rowcount is 0 — the one statement decides, so two processes can never both win.
        # Built once and run alone: one round trip per signed request (gateway.db.prepared).
        self._claim = Prepared(
            insert.on_conflict_do_update(
                index_elements=["party", "nonce"],
                set_={"expires_at": insert.excluded.expires_at},
                where=_NONCES.c.expires_at <= bindparam("now"),
            )
        )

    async def claim(self, party: str, nonce: str, ttl_seconds: int) -> bool:
        now = self._clock()
        params = {
            "party": party,
            "nonce": nonce,
            "expires_at": now + timedelta(seconds=ttl_seconds),
            "now": now,
        }
        return await self._claim.execute_alone(self._db, params) == 1

    async def purge_expired(self, *, batch: int = 1000) -> int:
        """Delete nonces past their TTL (the 300 s skew window; the sweeper calls this), `batch` at a time;
        returns how many went. A nonce past it can no longer be replayed: its timestamp is refused as stale."""
        expired = _NONCES.c.expires_at <= self._clock()
        return await delete_in_batches(self._db, _NONCES, expired, batch=batch)
