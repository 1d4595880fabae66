"""`gateway audit verify` and `gateway audit checkpoint`: check the hash chain, sign its head."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import certs
from gateway.audit import (
    checkpoint,
    checkpoint_freshness,
    latest_verified_checkpoint,
    verify_chain,
    verify_checkpoints,
)
from gateway.audit_export import ExportedHead, append_export, read_last_export, verify_against
from gateway.cli.common import Subparsers, open_database
from gateway.logging import get_logger
from gateway.settings import Settings

log = get_logger("gateway.audit")

KEY_FILE = "audit-checkpoint.key"
PUBLIC_KEY_FILE = "audit-checkpoint.pub.pem"


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser("audit", help="audit log: verify the chain, sign checkpoints / 审计日志")
    commands = group.add_subparsers(title="audit commands", metavar="COMMAND", required=True)
    verify = commands.add_parser(
        "verify", help="walk the chain (exit 1 naming the first broken row) and check signed checkpoints"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        help="trusted checkpoint key (PEM); default GW_AUDIT__CHECKPOINT_PUBLIC_KEY, else "
        f"DATA_DIR/keys/{PUBLIC_KEY_FILE} if it exists",
    )
    verify.add_argument(
        "--against",
        type=Path,
        metavar="FILE",
        help="a file written by `checkpoint --export`: the chain must hold its newest signed head",
    )
    verify.add_argument(
        "--full",
        action="store_true",
        help="walk the whole chain (default: from the newest checkpoint verified with the trusted key on)",
    )
    verify.set_defaults(run=_verify)
    sign = commands.add_parser("checkpoint", help="sign the chain's head with SM2 and store the checkpoint")
    sign.add_argument(
        "--key",
        type=Path,
        help=f"SM2 private key (PEM); default DATA_DIR/keys/{KEY_FILE}, created on first use",
    )
    sign.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="also append the signed head to FILE (JSON lines), kept outside the database",
    )
    sign.set_defaults(run=_checkpoint)


def _keys_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def _trusted_public_key(path: Path | None, settings: Settings) -> certs.SM2PublicKey | None:
    if path is None:
        path = settings.audit.checkpoint_public_key
    if path is None:
        path = _keys_dir(settings) / PUBLIC_KEY_FILE
        if not path.exists():
            return None
    return certs.SM2PublicKey.from_pem(path.read_bytes())


async def _verify(args: argparse.Namespace, settings: Settings) -> int:
    public_key = _trusted_public_key(args.public_key, settings)
    against: ExportedHead | None = None
    if args.against is not None:
        try:
            against = read_last_export(args.against)
        except (OSError, ValueError) as exc:
            print(f"cannot read exported head {args.against}: {exc} / 无法读取导出的检查点", file=sys.stderr)
            return 2
    async with open_database(settings) as db:
        since = None
        if not args.full and public_key is not None:
            since = await latest_verified_checkpoint(db, public_key)
        started = time.perf_counter()
        chain = await verify_chain(db, since=since)
        elapsed = time.perf_counter() - started
        if not chain.ok:
            print(
                f"audit chain BROKEN at seq {chain.first_broken_seq}: {chain.reason}\n"
                f"审计链在第{chain.first_broken_seq}条记录处断裂：{chain.reason_zh}\n"
                f"({chain.rows_checked} rows before it verified)"
            )
            return 1
        if since is None:
            walked = (
                "full walk" if args.full or public_key is None else "full walk: no verified checkpoint yet"
            )
        else:
            walked = f"incremental from checkpoint {since.id} at seq {since.seq}; --full walks everything"
        print(
            f"audit chain OK: {chain.rows_checked} rows, head seq {chain.head_seq} / 审计链完整 "
            f"({walked}; {elapsed:.2f} s)"
        )
        if public_key is None:
            if against is not None:
                print(
                    "--against needs a trusted public key (--public-key) / 需要受信任的公钥", file=sys.stderr
                )
                return 2
            print("checkpoints not checked: no trusted public key (--public-key) / 未提供公钥，未校验检查点")
            return 0
        report = await verify_checkpoints(db, public_key)
        if report.ok:
            max_age = timedelta(hours=settings.audit.checkpoint_max_age_hours)
            fresh = await checkpoint_freshness(db, max_age)
            report = fresh if not fresh.ok else report
        if not report.ok:
            print(f"checkpoint FAILED: {report.reason}\n检查点校验失败：{report.reason_zh}")
            return 1
        print(f"checkpoints OK: {report.checkpoints_checked} verified / 检查点校验通过")
        if against is None:
            return 0
        exported = await verify_against(db, against, public_key)
    if not exported.ok:
        print(f"exported head FAILED: {exported.reason}\n导出检查点校验失败：{exported.reason_zh}")
        return 1
    print(f"exported head OK: seq {against.seq} of checkpoint {against.checkpoint_id} / 导出检查点校验通过")
    return 0


def _load_or_create_key(path: Path | None, settings: Settings) -> certs.SM2PrivateKey:
    if path is not None:
        return certs.SM2PrivateKey.from_pem(path.read_bytes())
    key_path = _keys_dir(settings) / KEY_FILE
    if key_path.exists():
        return certs.SM2PrivateKey.from_pem(key_path.read_bytes())
    # Embedded mode: a key of its own on first use; production passes --key (kept outside the database).
    key = certs.SM2PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
    (_keys_dir(settings) / PUBLIC_KEY_FILE).write_bytes(key.public_key.to_pem())
    print(f"created checkpoint key {key_path} (public key {PUBLIC_KEY_FILE} beside it) / 已生成检查点密钥")
    return key


async def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    key = _load_or_create_key(args.key, settings)
    async with open_database(settings) as db:
        taken = await checkpoint(db, key, actor=f"cli:{getpass.getuser()}")
    exported = ExportedHead.of(taken)
    # Always to the log too: log shipping keeps a copy of every signed head outside the database.
    log.info(
        "audit checkpoint signed",
        checkpoint=taken.id,
        seq=taken.seq,
        head_hash=taken.head_hash,
        head=exported.to_json(),
    )
    if args.export is not None:
        append_export(args.export, exported)
    print(
        f"checkpoint {taken.id}: seq {taken.seq} hash {taken.head_hash} signed by key "
        f"{key.public_key.fingerprint[:16]}… / 检查点已签署"
    )
    return 0
