"""`gateway config check|show`: the start-up checks and the effective settings, without starting anything."""

from __future__ import annotations

import argparse
import json
import os

from gateway.cli.common import Subparsers
from gateway.config_checks import check_settings, variables
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    config = subparsers.add_parser("config", help="check and show the settings / 检查并显示配置")
    commands = config.add_subparsers(title="config commands", metavar="COMMAND")
    check = commands.add_parser(
        "check", help="run every start-up check, then print the effective settings (secrets hidden)"
    )
    check.set_defaults(run=_check)
    show = commands.add_parser("show", help="print the effective settings, or with --env every variable")
    show.add_argument("--env", action="store_true", help="list every GW_ variable with its type and meaning")
    show.set_defaults(run=_show)


def effective(settings: Settings) -> str:
    # mode="json" renders SecretStr as "**********": secrets never reach the terminal.
    return json.dumps(settings.model_dump(mode="json"), ensure_ascii=False, indent=2)


async def _check(_args: argparse.Namespace, settings: Settings) -> int:
    problems = check_settings(settings, os.environ)
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    print(
        f"{errors} error(s), {len(problems) - errors} warning(s) / 错误 {errors} 项，警告 {len(problems) - errors} 项"
    )
    print(effective(settings))
    return 1 if errors else 0


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    if not args.env:
        print(effective(settings))
        return 0
    for name, kind, meaning in variables():
        print(f"{name}\t{kind}\t{meaning}")
    return 0
