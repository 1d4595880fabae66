"""The API fixtures (participants, database on SQLite and PostgreSQL, clock, app) and a loopback receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import bank, clock, database, database_url, make_container, participants, serve
from tests.jobs.harness import Receiver

__all__ = ["bank", "clock", "database", "database_url", "make_container", "participants", "serve"]


@pytest.fixture
async def receiver(participants: Any) -> AsyncIterator[Receiver]:
    started = await Receiver(participants.registry_key.public_key).start()
    try:
        yield started
    finally:
        await started.stop()
