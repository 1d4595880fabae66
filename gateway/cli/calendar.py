"""`gateway calendar load FILE` and `gateway calendar show YEAR`: the official holiday tables."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from gateway.cli.common import Subparsers, open_database
from gateway.db.calendar_store import save_year_table, working_calendar
from gateway.domain.calendar import YearTable
from gateway.errors import InputError
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser(
        "calendar", help="working-day calendar: load and show year tables / 工作日历"
    )
    commands = group.add_subparsers(title="calendar commands", metavar="COMMAND", required=True)
    load = commands.add_parser(
        "load",
        help='load an official year table: {"year", "holidays", "workdays", "source"} (JSON)',
    )
    load.add_argument("file", type=Path)
    load.set_defaults(run=_load)
    show = commands.add_parser(
        "show", help="show a year's days off and make-up workdays, and where they come from"
    )
    show.add_argument("year", type=int)
    show.set_defaults(run=_show)


def _read_table(path: Path) -> YearTable:
    try:
        return YearTable.from_json(path.read_bytes())
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}", f"无法读取文件 {path}：{exc.strerror}"
        ) from exc


async def _load(args: argparse.Namespace, settings: Settings) -> int:
    table = _read_table(args.file)
    async with open_database(settings) as db:
        await save_year_table(db, table, actor=f"cli:{getpass.getuser()}")
    print(
        f"loaded {table.year}: {len(table.holidays)} days off, {len(table.workdays)} make-up workdays "
        f"({table.source}) / 已载入{table.year}年节假日安排\n"
        f"running gateways use it within {settings.calendar_check_seconds:g} s, without a restart / "
        "运行中的网关无需重启即生效"
    )
    return 0


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_database(settings) as db:
        calendar = await working_calendar(db)
    year: int = args.year
    source = calendar.source_of(year)
    table = calendar.year_table(year)
    if table is None:
        print(
            f"{year}: no official table and beyond the chinesecalendar library — deadlines count Monday to "
            f"Friday and are marked provisional. Load the State Council's table with `gateway calendar load`.\n"
            f"{year}年：尚无节假日安排，期限按周一至周五计算并标记为暂定。"
        )
        return 0
    if source == "table":
        print(f"{year}: from the loaded official table — {table.source} / 已载入的节假日安排")
    else:
        print(f"{year}: from the chinesecalendar library / 来自 chinesecalendar 库")
    days_off = [d for d in table.holidays if d.weekday() < 5]
    print(f"weekdays off / 工作日放假 ({len(days_off)}): " + " ".join(d.isoformat() for d in days_off))
    print(
        f"make-up workdays / 调休上班 ({len(table.workdays)}): "
        + " ".join(d.isoformat() for d in table.workdays)
    )
    return 0
