"""The `gateway` command. Each command group is a module with `register(subparsers)`; add yours to GROUPS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError

from certs import backends
from gateway import runtime
from gateway.cli import (
    audit,
    calendar,
    certificates,
    config,
    db,
    demo,
    keys,
    pii,
    register_data,
    serve,
    users,
    worker,
)
from gateway.cli.common import CommandGroup
from gateway.cli.failures import explain, explain_settings
from gateway.errors import GatewayError
from gateway.settings import Settings

__all__ = ["GROUPS", "build_parser", "main"]

# The one list of command groups: a new group is a module here plus one entry.
GROUPS: tuple[CommandGroup, ...] = (
    db,
    config,
    register_data,
    audit,
    calendar,
    certificates,
    keys,
    pii,
    users,
    serve,
    worker,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="不动产登记+金融 一体办 gateway. Settings come from GW_* environment variables.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 a check failed, 2 a usage or configuration error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        effective = settings or Settings()
    except (ValidationError, SettingsError) as exc:
        return _refuse(*explain_settings(exc))
    except GatewayError as exc:  # the parties file (GW_PARTIES_FILE) cannot be read
        return _refuse(exc.message_en, exc.message_zh)
    try:
        # GW_CRYPTO_BACKEND: every signature this process makes or checks goes through that implementation.
        backends.use_backend(effective.crypto_backend)
        return int(runtime.run(run(args, effective), effective.event_loop))
    except GatewayError as exc:
        return _refuse(exc.message_en, exc.message_zh)
    except Exception as exc:
        reason = explain(exc)
        if reason is None:  # not an operator's mistake: a defect, whose traceback is wanted
            raise
        return _refuse(*reason)


def _refuse(message_en: str, message_zh: str) -> int:
    """One line each in English and Chinese on stderr, exit status 2: what an operator reads and fixes."""
    print(f"error: {message_en}\n错误：{message_zh}", file=sys.stderr)
    return 2
