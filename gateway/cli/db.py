"""`gateway migrate`: bring the configured database's schema to the newest revision."""

from __future__ import annotations

import argparse

from gateway.cli.common import Subparsers, open_database
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "migrate", help="upgrade the database schema to the newest revision / 升级数据库"
    )
    parser.set_defaults(run=_migrate)


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    # Alembic is imported only here: it is slow to import and no other command needs it.
    from alembic.script import ScriptDirectory

    from gateway.db.migrate import alembic_config
    from gateway.wiring import personal_data_cipher

    async with open_database(settings) as db:
        # 0011 re-encrypts stored ID numbers; 0015 moves materials and certificate files to the blob store.
        await db.migrate(personal_data_cipher(settings), settings.effective_blob_dir())
        head = ScriptDirectory.from_config(alembic_config(db.url_string)).get_current_head()
        print(f"database {db.url.render_as_string(hide_password=True)} is at revision {head} / 数据库已升级")
    return 0
