"""A bound on JSON nesting: the one JSON decoder of party replies and party callbacks refuses more.

Python's json module recurses once per level and raises RecursionError (not ValueError) near 1,000 levels,
which escaped every error mapping. A party has no business nesting deeper than a few levels: more than
MAX_JSON_DEPTH is a protocol error. (Requests to the gateway's own API are parsed by pydantic, whose parser
refuses more than 200 levels as invalid JSON, a 422, and whose models allow no free-form nesting.)
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeep", "exceeds_depth", "loads_bounded"]

MAX_JSON_DEPTH = 64
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


class JsonTooDeep(ValueError):
    """JSON whose arrays and objects nest deeper than MAX_JSON_DEPTH."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def loads_bounded(body: bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """Parse UTF-8 JSON with numbers as Decimal (money stays exact); JsonTooDeep beyond `limit` levels,
    json.JSONDecodeError / UnicodeDecodeError when it is not JSON."""
    try:
        value = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except RecursionError:
        raise JsonTooDeep(limit) from None
    if exceeds_depth(body, limit):
        raise JsonTooDeep(limit)
    return value


def exceeds_depth(valid_json: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the arrays and objects of `valid_json` (already parsed, so balanced) nest deeper than
    `limit`. C-speed passes over the bytes: a body with no more brackets than `limit` is never scanned."""
    if valid_json.count(b"[") + valid_json.count(b"{") <= limit:  # nearly every body
        return False
    # Outside strings only: drop escaped backslashes, then escaped quotes, then every quoted run.
    text = valid_json.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(text.split(b'"')[::2]).translate(_SQUARE, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    # Each pass removes every innermost pair, so the depth falls by exactly one per pass.
    for _ in range(limit):
        if not brackets:
            return False
        if too_deep in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)
