"""Run-time fault injection for the simulated parties: a queue of one-shot faults plus a steady latency."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    STATUS = "status"  # an unsigned outage status (5xx) instead of the answer
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After
    HANG = "hang"  # accept and never answer (until the server stops or `seconds` pass)
    DISCONNECT = "disconnect"  # drop the connection without an answer
    MALFORMED = "malformed"  # a truncated body, correctly signed
    BILLION_LAUGHS = "billion_laughs"  # an entity-expansion bomb, correctly signed (SOAP parties)
    EXTERNAL_ENTITY = "external_entity"  # an XXE reading file:///etc/passwd, correctly signed (SOAP parties)
    WRONG_KEY = "wrong_key"  # the right answer signed by a key that is not the party's
    UNSIGNED = "unsigned"  # the right answer without signature headers
    OVERSIZED = "oversized"  # the right answer padded past any sane size cap
    BUSY = "busy"  # the party's own "busy, try later" result code, signed (each wire format spells it)
    SOAP_FAULT = "soap_fault"  # a signed SOAP fault with `code` (SOAP parties)
    DEEP_JSON = "deep_json"  # a JSON array nested `depth` levels deep, correctly signed
    # The right SOAP answer, correctly signed, with its response `element` renamed, moved to `namespace`,
    # and/or the text of the elements named in `texts` replaced (SOAP parties)
    TAMPERED = "tampered"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 503
    retry_after: int = 30
    seconds: float = 60.0
    size: int = 4 << 20
    code: str = "Server"
    depth: int = 100_000
    element: str = ""
    namespace: str = ""
    texts: tuple[tuple[str, str], ...] = ()


class FaultPlan:
    """What the next requests to a simulated party will suffer; settable while the server runs."""

    def __init__(self) -> None:
        self.latency = 0.0  # seconds added to every answer
        self.duplicate_callbacks = False  # callbacks the party sends go out twice with the same id
        self._queue: deque[Fault] = deque()

    def add(self, fault: Fault, times: int = 1) -> FaultPlan:
        self._queue.extend([fault] * times)
        return self

    def fail(self, times: int = 1, status: int = 503) -> FaultPlan:
        return self.add(Fault(FaultKind.STATUS, status=status), times)

    def rate_limit(self, times: int = 1, retry_after: int = 30) -> FaultPlan:
        return self.add(Fault(FaultKind.RATE_LIMIT, status=429, retry_after=retry_after), times)

    def hang(self, times: int = 1, seconds: float = 60.0) -> FaultPlan:
        return self.add(Fault(FaultKind.HANG, seconds=seconds), times)

    def soap_fault(self, code: str = "Server", times: int = 1) -> FaultPlan:
        return self.add(Fault(FaultKind.SOAP_FAULT, code=code), times)

    def then(self, kind: FaultKind, times: int = 1) -> FaultPlan:
        return self.add(Fault(kind), times)

    def clear(self) -> None:
        self._queue.clear()
        self.latency = 0.0
        self.duplicate_callbacks = False

    def take(self) -> Fault | None:
        return self._queue.popleft() if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)
