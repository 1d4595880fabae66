"""Row ids: random and unguessable everywhere (OWASP API1), in time order where the table is claimed from."""

from __future__ import annotations

import secrets
import time
from datetime import datetime

__all__ = ["new_id", "new_outbox_id"]


def new_id() -> str:
    """Random, unguessable ids (OWASP API1): 128 bits as 32 hex characters."""
    return secrets.token_hex(16)


def new_outbox_id(at: datetime | None = None) -> str:
    """A fresh outbox row id: 32 hex characters, the milliseconds since the epoch (12) then 80 random bits;
    `at` for a row written as of another time (the growth bench's generated history).

    In time order, as UUIDv7: the dispatcher claims the rows written lately, and a claim gives each row a new
    version with a new entry in the primary key. With random ids each of those entries went to a random
    leaf of a primary key as large as the outbox (73 MB at 10⁶ rows, mostly outside shared_buffers): about
    one page read per claimed row. In time order they go to the last few leaves, which stay cached. 80 random
    bits keep an id unguessable all the same."""
    millis = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    return f"{millis:012x}{secrets.token_hex(10)}"
