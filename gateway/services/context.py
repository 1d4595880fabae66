"""What every use case needs: the database, personal-data protection, the calendar, the registry, a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.blobs import UnconfiguredBlobStore
from gateway.domain.calendar import WorkingCalendar
from gateway.domain.parties import Institution
from gateway.domain.workflow import Case
from gateway.errors import Forbidden
from gateway.ports.blobs import BlobStore
from gateway.privacy import PersonalDataProtector
from gateway.services.store import Store
from gateway.settings import RegistrySettings

if TYPE_CHECKING:
    from gateway.db.database import Database
    from gateway.db.uow import UnitOfWork


# Called at the end of a use case's transaction, before commit: the HTTP layer stores the idempotent
# response there, so the effect and the stored response commit together or not at all.
Finisher = Callable[["UnitOfWork", Case], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    db: Database
    protector: PersonalDataProtector
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    clock: Callable[[], datetime] = utcnow
    # Participant code → the institution it is (name and credit code), for banks and developers.
    institutions: dict[str, Institution] = field(default_factory=dict)
    # Wakes the outbox dispatcher after a commit, so the effects a use case wrote start at once.
    wake: Callable[[], None] | None = None
    # Working days allowed per case before its deadline (the reform: certificates within one working day).
    deadline_working_days: int = 1
    # Re-reads the stored calendar when `gateway calendar load` changed it (gateway.db.calendar_store).
    calendar_loader: Callable[[], Awaitable[WorkingCalendar]] | None = None

    async def current_calendar(self) -> WorkingCalendar:
        """The calendar to count deadlines with: the one loaded now, not the one the process started with."""
        if self.calendar_loader is not None:
            self.calendar = await self.calendar_loader()
        return self.calendar

    # Materials' and certificates' bytes (gateway.ports.blobs); a context without one refuses to store any.
    blobs: BlobStore = field(default_factory=UnconfiguredBlobStore)

    def institution(self, party: str) -> Institution:
        found = self.institutions.get(party)
        if found is None:
            raise Forbidden(
                f"participant {party} is not a registered institution", f"参与方 {party} 未登记为金融机构"
            )
        return found

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[tuple[UnitOfWork, Store]]:
        async with self.db.transaction() as uow:
            if self.wake is not None:
                uow.after_commit(self.wake)
            yield uow, Store(None, self.protector, self.db.dialect, uow, self.blobs)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Store]:
        async with self.db.session() as session:
            yield Store(session, self.protector, self.db.dialect, blobs=self.blobs)
