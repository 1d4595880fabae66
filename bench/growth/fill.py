"""A register ten years old, generated and written with COPY: units, entries, cases with their transitions,
certificates, the utility jobs of the transfers, outbox rows (delivered, and some due), idempotency keys and
a sealed audit chain.

The cases are received one every five minutes up to the moment of the fill (10⁶ cases are 9.5 years), so a
read of "the last 7 days" finds a week's cases, as it would in a city's register. Of ten years of cases
nearly all are finished: 2 % are open, 2.5 % were refused (不予登记) with the rule that failed, and every
fourth is a transfer whose four utility jobs are done, the newest still waiting for the providers.

The rows are valid as the tables see them (keys, lengths, states, JSON shapes); the ID numbers in bulk
entries are not encrypted (those rows are there for their number, not to be read). 10⁶ cases take about a
minute of this process's CPU, mostly the audit chain's SM3.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from e_license.identifier import identifier_for
from e_license.numbers import CertificateKind, CertificateNumber
from gateway.db.ids import new_outbox_id
from gateway.domain.parties import CoOwnership, Owner
from gateway.domain.register import OwnershipFacts, Unit
from gateway.privacy import PersonalDataProtector, case_input, entry_facts
from gateway.seed import person
from gateway.settings import RegistrySettings
from growth.audit_rows import fill_audit

__all__ = ["Filled", "fill"]

BANKS = ("icbc-dg", "ccb-dg", "boc-dg", "dgb", "abc-dg", "psbc-dg")
PROVIDERS = ("dg-water", "dg-gas", "dg-power", "dg-network")
_SERVICES = ("water", "gas", "power", "network")
_START = datetime(2017, 1, 2, 1, 0, tzinfo=UTC)  # when the units and their entries were registered
_SPACING = timedelta(minutes=5)  # between two cases received
_CERTIFIED_AFTER = timedelta(minutes=50)
_REFUSED = [
    {"name": "unit_not_seized", "passed": False, "reason_zh": "不动产已被查封", "reason_en": "seized"}
]
_OWNER = person("业主", "44190019600101001", "13900000000")
_CHUNK = 50_000
# Of ten years of cases nearly all are finished; the open ones are what the back office works on.
_OPEN_STATES = ("received", "approved", "registered", "need_more_material")
# The back office's stage of each (gateway.domain.worklist.work_stage): what its work queue reads by.
_STAGE = {
    "received": "received",
    "approved": "register",
    "registered": "certify",
    "need_more_material": "correction",
    "completed": "closed",
    "rejected": "closed",
}


@dataclass
class Filled:
    cases: int
    units: int
    sample_case: str  # an open case of BANKS[0], for the case page
    sample_unit: str
    sample_token: str  # a certificate's QR token, for the public look-up
    sample_identifier: str


def _unit_code(i: int) -> str:
    return f"441900004010GB00209F{1 + i // 9999:04d}{1 + i % 9999:04d}"


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _copy(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]
) -> None:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _CHUNK:
            await conn.copy_records_to_table(table, records=batch, columns=columns)
            batch = []
    if batch:
        await conn.copy_records_to_table(table, records=batch, columns=columns)


def _case_input(n: int, unit_code: str) -> dict[str, Any]:
    owner = _OWNER.model_dump(mode="json")
    loan = f"BENCH-DK-{n:08d}"
    return {
        "kind": "mortgage_registration",
        "unit_code": unit_code,
        "ownership_certificate_number": f"粤（2017）东莞市不动产权第{n % 9_999_999 + 1:07d}号",
        "mortgagors": [owner],
        "mortgage": {
            "mortgage_kind": "general",
            "amount": "800000.00",
            "term_start": "2026-12-01",
            "term_end": "2046-12-01",
            "loan_contract_no": loan,
            "mortgage_contract_no": loan.replace("-DK-", "-DY-"),
        },
    }


async def fill(
    dsn: str, cases: int, protector: PersonalDataProtector, *, due: int = 10_000, audit_per_case: int = 3
) -> Filled:
    """Fill the migrated database at `dsn` (asyncpg DSN) with `cases` cases and everything around them; ID
    numbers are encrypted with `protector` (bound to their rows), so every row reads as the gateway's own."""
    units = max(1000, cases // 5)
    now = datetime.now(UTC)
    first = now - _SPACING * cases  # the newest case is received just now

    def received_at(n: int) -> datetime:
        return first + _SPACING * n

    conn = await asyncpg.connect(dsn)
    try:

        def unit_rows() -> Iterator[tuple[Any, ...]]:
            for i in range(units):
                code = _unit_code(i)
                facts = Unit(
                    unit_code=code,
                    address=f"广东省东莞市松山湖研发路{i}号",
                    floor_area=Decimal("90.00"),
                    land_term="2005年07月01日起2075年06月30日止",
                )
                yield (code, _j(facts.model_dump(mode="json")), _START)

        await _copy(conn, "unit", ("unit_code", "facts", "created_at"), unit_rows())
        owner = OwnershipFacts(owners=[Owner(party=_OWNER)], co_ownership=CoOwnership.SOLE).model_dump(
            mode="json"
        )

        def entries() -> Iterator[tuple[Any, ...]]:
            for i in range(units):
                entry_id = secrets.token_hex(16)
                facts = _j(protector.protect(owner, entry_facts(entry_id)))
                number = f"粤（2017）东莞市不动产权第{i + 1:07d}号"
                yield (entry_id, _unit_code(i), "ownership", facts, number, _START)

        await _copy(
            conn,
            "register_entry",
            ("id", "unit_code", "kind", "facts", "certificate_number", "opened_at"),
            entries(),
        )
        ids = [secrets.token_hex(16) for _ in range(cases)]
        open_every = 50  # 2 % of the cases are open
        refused_every = 40  # and 2.5 % were refused

        def state_of(n: int) -> str:
            if n % open_every == 0:
                return _OPEN_STATES[n // open_every % len(_OPEN_STATES)]
            return "rejected" if n % refused_every == refused_every // 2 else "completed"

        def case_rows() -> Iterator[tuple[Any, ...]]:
            for n, case_id in enumerate(ids):
                given = _j(protector.protect(_case_input(n, _unit_code(n % units)), case_input(case_id)))
                received = received_at(n)
                state = state_of(n)
                yield (
                    case_id,
                    "mortgage_registration",
                    state,
                    _unit_code(n % units),
                    BANKS[n % len(BANKS)],
                    "松山湖支行",
                    "柜员",
                    given,
                    "{}",
                    _j(_REFUSED) if state == "rejected" else "[]",
                    "",
                    received,
                    received + timedelta(days=1),
                    False,
                    received,
                    1,
                    _STAGE[state],
                    received + _CERTIFIED_AFTER if state == "completed" else None,
                )

        await _copy(
            conn,
            "case_record",
            (
                "id",
                "kind",
                "state",
                "unit_code",
                "submitted_by",
                "branch",
                "clerk",
                "input",
                "tracks",
                "rule_results",
                "reason",
                "received_at",
                "deadline_at",
                "deadline_provisional",
                "updated_at",
                "version",
                "stage",
                "certified_at",
            ),
            case_rows(),
        )
        steps = (None, "received", "approved", "registered", "certified", "completed")
        refused = (None, "received", "approved", "suspended", "rejected")

        def transitions() -> Iterator[tuple[Any, ...]]:
            for n, case_id in enumerate(ids):
                at = received_at(n)
                path = refused if state_of(n) == "rejected" else steps
                for k in range(4):
                    yield (case_id, path[k], path[k + 1], "bench", at + timedelta(minutes=k), "")

        await _copy(
            conn,
            "case_transition",
            ("case_id", "from_state", "to_state", "actor", "at", "reason"),
            transitions(),
        )
        tokens = [secrets.token_urlsafe(24) for _ in range(cases)]
        registry = RegistrySettings()

        def certificates() -> Iterator[tuple[Any, ...]]:
            for n, case_id in enumerate(ids):
                at = received_at(n) + _CERTIFIED_AFTER
                parsed = CertificateNumber.for_registry(registry, CertificateKind.PROOF, 2017, n + 1)
                number, identifier = str(parsed), str(identifier_for(parsed, registry))
                yield (
                    number,
                    "proof",
                    secrets.token_hex(16),
                    case_id,
                    _unit_code(n % units),
                    "张*",
                    "valid",
                    identifier,
                    tokens[n],
                    at,
                    at,
                    secrets.token_hex(32),
                    40_000,
                    1,
                )

        await _copy(
            conn,
            "certificate",
            (
                "number",
                "kind",
                "entry_id",
                "case_id",
                "unit_code",
                "holder_masked",
                "status",
                "identifier",
                "qr_token",
                "issued_at",
                "delivered_at",
                "pdf_ref",
                "pdf_size",
                "version",
            ),
            certificates(),
        )

        def outbox() -> Iterator[tuple[Any, ...]]:
            payload = _j({"event": "certificate_issued"})
            for n, case_id in enumerate(ids):  # delivered long ago (or within the retention, the newest)
                at = received_at(n) + _CERTIFIED_AFTER
                yield (
                    new_outbox_id(at),
                    "bank.notify",
                    BANKS[n % len(BANKS)],
                    payload,
                    case_id,
                    "delivered",
                    1,
                    at,
                    at,
                    "w",
                    at,
                    at,
                )
            for n in range(due):  # due now: the dispatcher's next claims
                at = now - timedelta(seconds=n % 600)
                target = PROVIDERS[n % len(PROVIDERS)] if n % 2 else BANKS[n % len(BANKS)]
                job = "utility.transfer" if n % 2 else "bank.notify"
                body = _j({"service": _SERVICES[n % 4], "account_no": f"{n:010d}"}) if n % 2 else payload
                yield (
                    new_outbox_id(at),
                    job,
                    target,
                    body,
                    ids[n % len(ids)] if ids else None,
                    "pending",
                    0,
                    at,
                    None,
                    None,
                    at,
                    None,
                )

        await _copy(
            conn,
            "outbox",
            (
                "id",
                "job",
                "target",
                "payload",
                "case_id",
                "status",
                "attempts",
                "next_attempt_at",
                "claimed_at",
                "claimed_by",
                "created_at",
                "delivered_at",
            ),
            outbox(),
        )

        transfer_every = 4
        waiting = max(0, cases - 288)  # the last day's transfers: their providers have not all answered yet

        def utility_jobs() -> Iterator[tuple[Any, ...]]:
            for n in range(1, cases, transfer_every):
                created = received_at(n) + _CERTIFIED_AFTER
                for k, provider in enumerate(PROVIDERS):
                    answered = created + timedelta(hours=2)
                    status = "accepted" if n >= waiting and k % 2 else "done"
                    yield (
                        new_outbox_id(created),
                        ids[n],
                        provider,
                        _SERVICES[k],
                        _unit_code(n % units),
                        f"{n:010d}",
                        status,
                        "",
                        "",
                        f"U{n:010d}",
                        1,
                        answered,
                        created,
                        answered,
                    )

        await _copy(
            conn,
            "utility_job",
            (
                "id",
                "case_id",
                "provider",
                "service",
                "unit_code",
                "account_no",
                "status",
                "provider_code",
                "message",
                "provider_reference",
                "attempts",
                "answered_at",
                "created_at",
                "updated_at",
            ),
            utility_jobs(),
        )

        def keys() -> Iterator[tuple[Any, ...]]:  # the last day's keys: retention keeps no more
            for n in range(max(1000, cases // 10)):
                at = now - timedelta(seconds=n % 86_000)
                yield (
                    BANKS[n % len(BANKS)],
                    secrets.token_hex(16),
                    "f" * 64,
                    "completed",
                    "o" * 32,
                    at,
                    at,
                    at,
                    201,
                    "application/json",
                    b'{"id":"x"}',
                )

        await _copy(
            conn,
            "idempotency_key",
            (
                "party",
                "key",
                "fingerprint",
                "state",
                "owner",
                "lease_until",
                "created_at",
                "completed_at",
                "status_code",
                "content_type",
                "response_body",
            ),
            keys(),
        )
        await fill_audit(conn, cases * audit_per_case, ids[:100_000])
        await conn.execute("ANALYZE")
        sample = ids[0] if ids else ""
        return Filled(
            cases,
            units,
            sample,
            _unit_code(0),
            tokens[0] if tokens else "",
            str(
                identifier_for(
                    CertificateNumber.for_registry(registry, CertificateKind.PROOF, 2017, 1), registry
                )
            ),
        )
    finally:
        await conn.close()
