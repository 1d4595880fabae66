"""Loading and saving the register and cases: rows ↔ domain objects, with ID numbers encrypted at rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pydantic import TypeAdapter
from sqlalchemy import (
    ARRAY,
    CursorResult,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.blobs import UnconfiguredBlobStore
from gateway.db.ids import new_id
from gateway.db.prepared import Prepared
from gateway.db.tables.cases import CaseRow, MaterialRow, TransitionRow
from gateway.db.tables.register import EntryRow, UnitRow
from gateway.domain.cases import CaseInput
from gateway.domain.register import Entry, EntryFacts, RegisterView, Unit
from gateway.domain.registration import NewEntry
from gateway.domain.workflow import Case, CaseState, Track, TrackState
from gateway.domain.worklist import work_stage
from gateway.errors import Conflict, FieldReason, InputError, NotFound
from gateway.ports.blobs import BlobStore
from gateway.privacy import PersonalDataProtector, case_input, entry_facts
from gateway.services.store_certificates import CertificateRecords
from gateway.services.store_materials import MaterialRecords
from gateway.services.store_queue import QueueRecords, StaffRecords

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

_FACTS: TypeAdapter[EntryFacts] = TypeAdapter(EntryFacts)
_INPUT: TypeAdapter[CaseInput] = TypeAdapter(CaseInput)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


UNIT, ENTRY, CASE = _table(UnitRow), _table(EntryRow), _table(CaseRow)
TRANSITION = _table(TransitionRow)
MATERIAL = _table(MaterialRow)
LIVE_STATES = (
    CaseState.RECEIVED,
    CaseState.UNDER_REVIEW,
    CaseState.NEED_MORE_MATERIAL,
    CaseState.APPROVED,
    CaseState.SUSPENDED,
)
# A fixed list of bound literals, not `in_(list)`: that expands at every execution (SQLAlchemy's postcompile).
_LIVE = CASE.c.state.in_([literal(s.value) for s in LIVE_STATES])

# Statements of every submission, built once (building one costs about as much as running it) and run
# on the driver directly on PostgreSQL (gateway.db.prepared).
_UNIT_FACTS = select(UNIT.c.facts).where(UNIT.c.unit_code == bindparam("unit_code"))
_LOCK_UNIT = {"postgresql": Prepared(_UNIT_FACTS.with_for_update()), "sqlite": Prepared(_UNIT_FACTS)}
_UNIT_FACTS_READ = Prepared(_UNIT_FACTS)
_OPEN = (ENTRY.c.unit_code == bindparam("unit_code"), ENTRY.c.closed_at.is_(None))
_OPEN_ENTRIES = Prepared(select(ENTRY).where(*_OPEN))
_RANKS_RESERVED = (CASE.c.unit_code == bindparam("unit_code"), _LIVE, CASE.c.rank.is_not(None))
_RESERVED_RANKS = Prepared(select(CASE.c.rank).where(*_RANKS_RESERVED))
# Both in one round trip: the open entries, then one row per rank reserved by a live case (entry columns NULL).
_ENTRIES_AND_RANKS = Prepared(
    union_all(
        select(*ENTRY.c, null().label("reserved_rank")).where(*_OPEN),
        select(*(null().label(c.name) for c in ENTRY.c), CASE.c.rank).where(*_RANKS_RESERVED),
    )
)
_INSERT_CASE, _INSERT_TRANSITIONS = insert(CASE), insert(TRANSITION)
_LIVE_VALUES = [s.value for s in LIVE_STATES]
_LOCK_UNIT_VIEW = Prepared(
    text(
        "SELECT unit_facts, receipt, entry, reserved_rank"
        " FROM gw_lock_unit_view(CAST(:p_unit AS text), CAST(:p_live AS text[]), CAST(:p_ranks AS boolean),"
        " CAST(:p_registry AS text), CAST(:p_year AS integer))"
    ).bindparams(
        bindparam("p_live", type_=ARRAY(String)),
        bindparam("p_registry", type_=String),
        bindparam("p_year", type_=Integer),
    )
)
_ENTRY_TIMES = ("opened_at", "closed_at")


def _entry_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `register_entry` row as to_jsonb gives it: its times back to aware UTC datetimes."""
    found = dict(row)
    for name in _ENTRY_TIMES:
        if found[name] is not None:
            found[name] = datetime.fromisoformat(found[name]).astimezone(UTC)
    return found


@dataclass(frozen=True)
class LockedUnit:
    """What a submission reads under its unit's lock (Store.lock_unit_view)."""

    view: RegisterView
    reserved_ranks: list[int]
    receipt: int | None  # the next receipt number, when the database gave it with the read


def _not_on_register(unit_code: str) -> InputError:
    return InputError(
        f"unit {unit_code} is not on the register",
        f"不动产单元 {unit_code} 不在登记簿上",
        [FieldReason("unit_code", "登记簿中没有该不动产单元", "no such unit on the register")],
    )


class Store(CertificateRecords, MaterialRecords, QueueRecords, StaffRecords):
    """The persistence of one unit of work. Every method runs inside the caller's transaction."""

    def __init__(
        self,
        session: AsyncSession | None,
        protector: PersonalDataProtector,
        dialect: str,
        uow: UnitOfWork | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        """`session` for reading; with a unit of work, None: its connection serves the hot paths and its
        session is made only if a method needs the ORM. `blobs` keeps the materials' and certificates'
        bytes (the rows hold their SM3 names)."""
        if session is None and uow is None:
            raise ValueError("a Store needs a session or a unit of work")
        self._session = session
        self.protector = protector
        self.dialect = dialect
        # New cases and materials are queued on the unit of work (written at commit, with its outbox and
        # audit rows: one statement on PostgreSQL) rather than inserted at once.
        self.uow = uow
        self.blobs: BlobStore = blobs if blobs is not None else UnconfiguredBlobStore()
        self._conn: AsyncConnection | None = None

    # --- register -------------------------------------------------------------------------------

    async def lock_unit(self, unit_code: str) -> Unit:
        """Lock the unit for this transaction, so two cases on one unit act one after the other.

        SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs the row lock.
        """
        found = await _LOCK_UNIT[self.dialect].fetch(await self._connection(), {"unit_code": unit_code})
        if not found:
            raise _not_on_register(unit_code)
        return Unit.model_validate(found[0]["facts"])

    async def lock_unit_view(
        self, unit_code: str, *, ranks: bool, receipt_of: tuple[str, int] | None = None
    ) -> LockedUnit:
        """`lock_unit`, then `view` (with `reserved_ranks` if `ranks`), and on PostgreSQL the next receipt
        number of `receipt_of` (registry, year): there in one round trip (gw_lock_unit_view, migration 0016:
        the read runs after the lock is granted, with its own snapshot). On SQLite `receipt` is None: the
        caller numbers the case once its rules pass (`next_receipt`), gapless."""
        if self.dialect != "postgresql":
            locked = await self.lock_unit(unit_code)
            view, reserved = (
                await self.view_and_reserved_ranks(locked) if ranks else (await self.view(locked), [])
            )
            return LockedUnit(view, reserved, None)
        registry, year = receipt_of or (None, None)
        params = {"p_unit": unit_code, "p_live": _LIVE_VALUES, "p_ranks": ranks}
        params |= {"p_registry": registry, "p_year": year}
        rows = await _LOCK_UNIT_VIEW.fetch(await self._connection(), params)
        if not rows:
            raise _not_on_register(unit_code)
        first, *rest = rows  # the unit's row comes first
        unit = Unit.model_validate(first["unit_facts"])
        entries = [self._entry(_entry_columns(r["entry"])) for r in rest if r["entry"] is not None]
        reserved = [r["reserved_rank"] for r in rest if r["entry"] is None]
        receipt = first["receipt"]
        return LockedUnit(
            RegisterView(unit=unit, entries=entries), reserved, None if receipt is None else int(receipt)
        )

    async def load_unit(self, unit_code: str) -> Unit:
        """The unit, read without a lock (pages and reports); InputError when it is not on the register."""
        found = await _UNIT_FACTS_READ.fetch(await self._connection(), {"unit_code": unit_code})
        if not found:
            raise InputError(
                f"unit {unit_code} is not on the register", f"不动产单元 {unit_code} 不在登记簿上"
            )
        return Unit.model_validate(found[0]["facts"])

    async def unit_exists(self, unit_code: str) -> bool:
        found = await self.session.execute(select(UNIT.c.unit_code).where(UNIT.c.unit_code == unit_code))
        return found.scalar_one_or_none() is not None

    async def add_unit(self, unit: Unit, at: datetime) -> None:
        self.session.add(UnitRow(unit_code=unit.unit_code, facts=unit.model_dump(mode="json"), created_at=at))

    async def replace_unit_facts(self, unit: Unit) -> None:
        """A cadastral change (e.g. 首次登记 done): the unit's physical facts, not its rights."""
        await self.session.execute(
            update(UNIT).where(UNIT.c.unit_code == unit.unit_code).values(facts=unit.model_dump(mode="json"))
        )

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            assert self.uow is not None
            self._session = self.uow.session
        return self._session

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = self.uow.connection if self.uow is not None else await self.session.connection()
        return self._conn

    async def view(self, unit: Unit) -> RegisterView:
        rows = await _OPEN_ENTRIES.fetch(await self._connection(), {"unit_code": unit.unit_code})
        return RegisterView(unit=unit, entries=[self._entry(r) for r in rows])

    async def view_and_reserved_ranks(self, unit: Unit) -> tuple[RegisterView, list[int]]:
        """`view(unit)` and `reserved_ranks(unit.unit_code)` in one round trip (the unit is locked)."""
        rows = await _ENTRIES_AND_RANKS.fetch(await self._connection(), {"unit_code": unit.unit_code})
        entries = [self._entry(r) for r in rows if r["id"] is not None]
        return RegisterView(unit=unit, entries=entries), [r["reserved_rank"] for r in rows if r["id"] is None]

    async def entries_of(self, unit_code: str, *, include_closed: bool = True) -> list[Entry]:
        stmt = select(ENTRY).where(ENTRY.c.unit_code == unit_code).order_by(ENTRY.c.opened_at)
        if not include_closed:
            stmt = stmt.where(ENTRY.c.closed_at.is_(None))
        return [self._entry(r._mapping) for r in await self.session.execute(stmt)]

    def entry_from_row(self, row: Mapping[Any, Any]) -> Entry:
        """An entry from a `register_entry` row read elsewhere (the register import and export)."""
        return self._entry(row)

    def _entry(self, row: Mapping[Any, Any]) -> Entry:
        """An entry from a row of `register_entry`, by column name (Core or driver rows: no ORM objects)."""
        return Entry(
            id=row["id"],
            unit_code=row["unit_code"],
            facts=_FACTS.validate_python(self.protector.reveal(row["facts"], entry_facts(row["id"]))),
            opened_by_case=row["opened_by_case"],
            opened_at=row["opened_at"],
            certificate_number=row["certificate_number"],
            rank=row["rank"],
            closed_by_case=row["closed_by_case"],
            closed_at=row["closed_at"],
        )

    async def open_entry(
        self,
        unit_code: str,
        new: NewEntry,
        *,
        case_id: str | None,
        at: datetime,
        certificate_number: str | None,
    ) -> str:
        entry_id = new_id()
        await self.session.execute(
            insert(ENTRY).values(
                id=entry_id,
                unit_code=unit_code,
                kind=new.facts.kind.value,
                facts=self.protector.protect(new.facts.model_dump(mode="json"), entry_facts(entry_id)),
                rank=new.rank,
                certificate_number=certificate_number,
                opened_by_case=case_id,
                opened_at=at,
            )
        )
        return entry_id

    async def close_entries(self, entry_ids: list[str], *, case_id: str | None, at: datetime) -> None:
        """Close open entries: by a case, or (case_id None) by a back-office act recorded in the audit log."""
        if not entry_ids:
            return
        result = await self.session.execute(
            update(ENTRY)
            .where(ENTRY.c.id.in_(entry_ids), ENTRY.c.closed_at.is_(None))
            .values(closed_by_case=case_id, closed_at=at)
        )
        if cast(CursorResult[Any], result).rowcount != len(entry_ids):
            raise Conflict("a register entry was closed meanwhile", "登记簿记载已被其他业务变更")

    # --- cases ----------------------------------------------------------------------------------

    async def reserved_ranks(self, unit_code: str) -> list[int]:
        rows = await _RESERVED_RANKS.fetch(await self._connection(), {"unit_code": unit_code})
        return [r["rank"] for r in rows]

    async def load_case(self, case_id: str, *, party: str | None = None) -> Case:
        """The case, or NotFound — also when it belongs to another party, so existence does not leak."""
        stmt = select(CaseRow).where(CASE.c.id == case_id)
        if party is not None:
            stmt = stmt.where(CASE.c.submitted_by == party)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"case {case_id} not found", f"未找到业务件 {case_id}")
        return self._case(row)

    def _case(self, row: CaseRow) -> Case:
        return Case(
            id=row.id,
            kind=row.kind,
            state=row.state,
            unit_code=row.unit_code,
            receipt_number=row.receipt_number,
            submitted_by=row.submitted_by,
            branch=row.branch,
            clerk=row.clerk,
            input=_INPUT.validate_python(self.protector.reveal(row.input, case_input(row.id))),
            tracks={Track(k): TrackState.model_validate(v) for k, v in row.tracks.items()},
            rule_results=row.rule_results,
            reason=row.reason,
            assignee=row.assignee,
            rank=row.rank,
            received_at=row.received_at,
            deadline_at=row.deadline_at,
            deadline_provisional=row.deadline_provisional,
            approved_at=row.approved_at,
            registered_at=row.registered_at,
            certified_at=row.certified_at,
            completed_at=row.completed_at,
            version=row.version,
        )

    def _columns(self, case: Case) -> dict[str, Any]:
        return {
            "state": case.state.value,
            "tracks": {k.value: v.model_dump(mode="json") for k, v in case.tracks.items()},
            "rule_results": case.rule_results,
            "reason": case.reason,
            "assignee": case.assignee,
            "stage": work_stage(case).value,
            "deadline_at": case.deadline_at,
            "rank": case.rank,
            "approved_at": case.approved_at,
            "registered_at": case.registered_at,
            "certified_at": case.certified_at,
            "completed_at": case.completed_at,
        }

    async def insert_case(self, case: Case, at: datetime) -> None:
        """Insert a new case and its transitions; with a unit of work, queued on it (written at commit)."""
        row = {
            "id": case.id,
            "kind": case.kind.value,
            "unit_code": case.unit_code,
            "receipt_number": case.receipt_number,
            "submitted_by": case.submitted_by,
            "branch": case.branch,
            "clerk": case.clerk,
            "input": self.protector.protect(case.input.model_dump(mode="json"), case_input(case.id)),
            "received_at": case.received_at,
            "deadline_provisional": case.deadline_provisional,
            "updated_at": at,
            "version": case.version,
            **self._columns(case),
        }
        if self.uow is not None:
            self.uow.insert(CASE, [row])
            self.uow.insert(TRANSITION, self._transition_rows(case))
            case.new_transitions.clear()
            return
        # Parameters, not .values(): the statement stays the one built once (and its compiled form cached).
        await self.session.execute(_INSERT_CASE, row)
        await self._flush_transitions(case)

    async def save_case(self, case: Case, at: datetime) -> None:
        """Write the case back; refuses if someone else changed it since it was loaded."""
        result = await self.session.execute(
            update(CASE)
            .where(CASE.c.id == case.id, CASE.c.version == case.version)
            .values(updated_at=at, version=case.version + 1, **self._columns(case))
        )
        if cast(CursorResult[Any], result).rowcount != 1:
            raise Conflict(
                "the case was changed meanwhile; reload and retry", "业务件已被他人修改，请刷新后重试"
            )
        case.version += 1
        await self._flush_transitions(case)

    async def _flush_transitions(self, case: Case) -> None:
        if case.new_transitions:
            await self.session.execute(_INSERT_TRANSITIONS, self._transition_rows(case))
            case.new_transitions.clear()

    @staticmethod
    def _transition_rows(case: Case) -> list[dict[str, Any]]:
        return [
            {
                "case_id": case.id,
                "from_state": t.from_state.value if t.from_state else None,
                "to_state": t.to_state.value,
                "actor": t.actor,
                "at": t.at,
                "reason": t.reason,
            }
            for t in case.new_transitions
        ]

    async def history(self, case_id: str) -> list[TransitionRow]:
        rows = await self.session.execute(
            select(TransitionRow).where(TRANSITION.c.case_id == case_id).order_by(TRANSITION.c.id)
        )
        return list(rows.scalars())

    async def list_cases(
        self,
        *,
        party: str | None,
        state: CaseState | None,
        limit: int,
        before: datetime | None = None,
        assignee: str | None = None,
    ) -> list[Case]:
        """Newest first; a party sees only its own (the filter is in the query, not after it)."""
        stmt = select(CaseRow).order_by(CASE.c.received_at.desc()).limit(limit)
        if party is not None:
            stmt = stmt.where(CASE.c.submitted_by == party)
        if state is not None:
            stmt = stmt.where(CASE.c.state == state.value)
        if before is not None:
            stmt = stmt.where(CASE.c.received_at < before)
        if assignee is not None:
            stmt = stmt.where(CASE.c.assignee == assignee)
        return [self._case(r) for r in (await self.session.execute(stmt)).scalars()]

    async def count_live_cases(self, unit_code: str) -> int:
        found = await self.session.execute(
            select(func.count()).select_from(CASE).where(CASE.c.unit_code == unit_code, _LIVE)
        )
        return int(found.scalar_one())

    async def lock_case(self, case_id: str) -> None:
        """Serialise changes to one case's certificates and state (PostgreSQL row lock; SQLite already is)."""
        if self.dialect == "postgresql":
            await self.session.execute(select(CASE.c.id).where(CASE.c.id == case_id).with_for_update())

    async def count_cases(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(CASE))).scalar_one())
