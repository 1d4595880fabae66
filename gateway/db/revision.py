"""`python -m gateway.db.revision "message"`: autogenerate the next numbered migration from the tables.

The schema to compare against is a scratch SQLite database migrated to head (so no server is needed), or
`--url` for a real one. The new file lands in gateway/db/migrations/versions/ as NNNN_message.py,
revising the current head, so the chain stays linear; review it before committing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from gateway.db.migrate import alembic_config, upgrade

__all__ = ["main", "make_revision"]


def _next_revision_id(url: str) -> str | None:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if head is None:
        return "0001"
    return f"{int(head) + 1:04d}" if head.isdigit() else None


def make_revision(message: str, url: str | None = None) -> Path | None:
    """Write the next revision; None when the tables and the migrated schema already agree."""
    with tempfile.TemporaryDirectory() as scratch:
        target = url or f"sqlite+aiosqlite:///{scratch}/scratch.db"
        upgrade(target)
        config = alembic_config(target)
        config.attributes["skip_empty"] = True
        result = command.revision(
            config, message=message, autogenerate=True, rev_id=_next_revision_id(target)
        )
    scripts = result if isinstance(result, list) else [result]
    paths = [Path(s.path) for s in scripts if s is not None]
    if not paths:
        return None
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        # Alembic's rendering is not ruff-formatted; tidy it so `make lint` stays green.
        subprocess.run([ruff, "check", "--fix", "-q", *map(str, paths)], check=False)
        subprocess.run([ruff, "format", "-q", *map(str, paths)], check=False)
    return paths[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.db.revision", description=__doc__)
    parser.add_argument("message", help='what the migration does, e.g. "register tables"')
    parser.add_argument("--url", help="compare against this database instead of a scratch SQLite file")
    args = parser.parse_args(argv)
    path = make_revision(args.message, args.url)
    if path is None:
        print("no changes: the tables match the migrations / 表结构与迁移一致，未生成新版本")
        return 0
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
