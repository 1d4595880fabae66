"""Alembic, driven from code: the configuration for a URL and `upgrade head` (run in a worker thread)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from certs import FieldCipher

__all__ = ["MIGRATIONS_DIR", "alembic_config", "head_revision", "known_revisions", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str, field_cipher: FieldCipher | None = None, blob_dir: Path | None = None) -> Config:
    """An Alembic configuration whose env.py migrates `url` (alembic.ini is only for the `alembic` CLI).

    `field_cipher`: the PII keys, for revisions that re-encrypt stored ID numbers (0011). `blob_dir`: the
    blob store, for revisions that move files out of the tables (0015)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision files are named 0001_message.py, 0002_… so the chain reads in order.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = url
    config.attributes["field_cipher"] = field_cipher
    config.attributes["blob_dir"] = blob_dir
    return config


def upgrade(
    url: str, revision: str = "head", field_cipher: FieldCipher | None = None, blob_dir: Path | None = None
) -> None:
    command.upgrade(alembic_config(url, field_cipher, blob_dir), revision)


@cache
def known_revisions() -> tuple[str, ...]:
    """This code's revisions, newest first (read from the revision files once per process)."""
    from alembic.script import ScriptDirectory

    return tuple(r.revision for r in ScriptDirectory.from_config(alembic_config("")).walk_revisions())


def head_revision() -> str:
    return known_revisions()[0]
