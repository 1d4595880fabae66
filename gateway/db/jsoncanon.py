"""Canonical JSON: one byte-exact text per value, for hashing audit rows and storing JSON payloads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel

__all__ = ["canonical_json", "format_timestamp", "json_ready"]


def format_timestamp(value: datetime) -> str:
    """UTC with microseconds and a `Z`, the one spelling used inside hashes: `2026-10-08T01:00:00.000000Z`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _default(value: object) -> object:
    # Money stays exact: a Decimal becomes its string, never a float.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text kept as is, no NaN: equal values give equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    )


def json_ready(value: Any) -> Any:
    """The plain JSON value (dict/list/str/int/float/bool/None) that is stored, so stored equals hashed."""
    return json.loads(canonical_json(value))
