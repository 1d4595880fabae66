"""Fixtures of the utilities tests: one CA per session, the four providers per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.utilities import UtilityProviders, start_utilities
from tests.utilities.support import Registry


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.create()


@pytest.fixture
async def providers(registry: Registry) -> AsyncIterator[UtilityProviders]:
    running = await start_utilities(registry.ca, registry.certificate, gas_process_delay=0.01)
    try:
        yield running
    finally:
        await running.stop()
