"""`gateway pii rekey`: every stored ID number under the current PII key, its look-up index recomputed."""

from __future__ import annotations

import argparse
import sys
import time

from gateway.cli.common import Subparsers, open_database
from gateway.services.pii_rekey import DEFAULT_BATCH, RekeyReport, rekey
from gateway.settings import Settings
from gateway.wiring import personal_data_cipher


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser("pii", help="keys of the ID numbers at rest / 个人信息加密密钥")
    commands = group.add_subparsers(title="pii commands", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "rekey",
        help="re-encrypt every stored ID number under GW_PII_CURRENT_KEY_ID and recompute its index with "
        "GW_PII_INDEX_KEY, in batches, audited / 以当前密钥重新加密已存储的身份证号并重算索引",
    )
    run.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"rows per transaction (default {DEFAULT_BATCH})",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="count what would change, write nothing / 只统计，不写入"
    )
    run.add_argument("--actor", default="pii-rekey", help="who is recorded in the audit log")
    run.set_defaults(run=_rekey)


async def _rekey(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1\n错误：--batch-size 至少为 1", file=sys.stderr)
        return 2
    cipher = personal_data_cipher(settings)
    started = time.monotonic()

    shown = [started]

    def progress(report: RekeyReport) -> None:
        if time.monotonic() - shown[0] < 1.0:  # a line a second at most, on a city's register too
            return
        shown[0] = time.monotonic()
        print(
            f"{report.rows_scanned:,} rows read, {report.rows_rewritten:,} rewritten",
            file=sys.stderr,
            flush=True,
        )

    async with open_database(settings) as db:
        report = await rekey(
            db, cipher, actor=args.actor, batch_size=args.batch_size, dry_run=args.dry_run, progress=progress
        )
    moved = sum(report.reencrypted.values())
    found = ", ".join(f"{key_id}: {n:,}" for key_id, n in sorted(report.found.items())) or "none"
    verb = "would be" if args.dry_run else "were"
    print(
        f"{report.rows_scanned:,} rows read in {time.monotonic() - started:.1f} s; ID numbers by key: {found}. "
        f"{moved:,} {verb} re-encrypted to key {report.current_key_id!r}, {report.reindexed:,} indexes "
        f"recomputed, {report.rows_rewritten:,} rows {'to rewrite' if args.dry_run else 'rewritten'}. / "
        f"共读取 {report.rows_scanned} 行，重新加密 {moved} 个身份证号，重算索引 {report.reindexed} 个"
    )
    old = report.old_keys_found
    if args.dry_run and old:
        print(f"still needed / 仍在使用: {', '.join(old)} — run `gateway pii rekey` to retire them")
    elif old:
        retired = ", ".join(old)
        print(
            f"no stored ID number needs key {retired} any more: remove it from GW_PII_KEYS (every process "
            f"already runs with {report.current_key_id!r} current) / 密钥 {retired} 已不再使用，可从 GW_PII_KEYS 移除"
        )
    return 0
