"""What every command module shares: the group protocol and opening the configured database."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from gateway.db import Database
from gateway.settings import Settings

__all__ = ["CommandGroup", "Runner", "Subparsers", "open_database"]

Subparsers = Any  # argparse's _SubParsersAction is private; its add_parser is all we use
Runner = Callable[[argparse.Namespace, Settings], Awaitable[int]]


class CommandGroup(Protocol):
    """A command module: `register` adds its parsers, each with `set_defaults(run=<async runner>)`."""

    def register(self, subparsers: Subparsers) -> None: ...


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.effective_database_url())
    try:
        yield database
    finally:
        await database.dispose()
