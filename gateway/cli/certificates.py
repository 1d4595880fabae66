"""`gateway certificates show NUMBER` and `gateway certificates export NUMBER --out FILE`: issued certificates."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sqlalchemy import select

from e_license import NumberFormat
from gateway.blobs import DirectoryBlobStore
from gateway.cli.common import Subparsers, open_database
from gateway.errors import InputError
from gateway.services.certificate_lookup import find_by_number
from gateway.services.store_certificates import CERTIFICATE
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser("certificates", help="electronic certificates: show, export / 电子证照")
    commands = group.add_subparsers(title="certificates commands", metavar="COMMAND", required=True)
    show = commands.add_parser(
        "show", help="a certificate's facts and status (either bracket width: 粤(2026)… or 粤（2026）…)"
    )
    show.add_argument("number")
    show.set_defaults(run=_show)
    export = commands.add_parser(
        "export", help="write the signed PDF (signature embedded), e.g. to check it with gw-elicense verify"
    )
    export.add_argument("number")
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.set_defaults(run=_export)


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_database(settings) as db:
        record = await find_by_number(db, settings.registry, args.number)
    if record is None:
        print(f"no such certificate / 未找到证书：{args.number}")
        return 1
    facts = record.facts
    since = (
        f" since {facts.status_changed_on} / {facts.status_changed_on}起" if facts.status_changed_on else ""
    )
    lines = [
        ("证照名称 document", facts.document),
        ("证号 number", facts.number),
        ("证照标识 identifier", facts.identifier or "— (paper certificate / 纸质证书)"),
        ("版本 version", f"{facts.version:03d}"),
        ("颁发机构 issuer", facts.issuer),
        ("颁发日期 issued on", str(facts.issued_on or "—")),
        ("状态 status", f"{facts.status_zh} / {facts.status.label_en}{since}"),
        ("权利人 holder", facts.holder),
        ("不动产单元号 unit", record.unit_code),
        ("业务件 case", record.case_id or "— (migrated register / 存量登记)"),
        ("SM3", facts.sm3 or "—"),
        ("文件 file", f"{record.file_bytes} bytes" if record.file_bytes else "not issued yet / 尚未缮证"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label.ljust(width)}  {value}")
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    fmt = NumberFormat.for_registry(settings.registry)
    number = fmt.format(fmt.parse(args.number))
    async with open_database(settings) as db, db.session() as session:
        found = (
            await session.execute(select(CERTIFICATE.c.pdf_ref).where(CERTIFICATE.c.number == number))
        ).one_or_none()
    if found is None:
        print(f"no such certificate / 未找到证书：{number}")
        return 1
    if found.pdf_ref is None:
        print(
            f"{number} has no electronic file (not issued yet, or a paper certificate) / 该证书没有电子文件"
        )
        return 1
    pdf = await DirectoryBlobStore(settings.effective_blob_dir()).get(found.pdf_ref)
    out: Path = args.out
    try:
        await asyncio.to_thread(out.write_bytes, pdf)
    except OSError as exc:
        raise InputError(
            f"cannot write {out}: {exc.strerror}", f"无法写入文件 {out}：{exc.strerror}"
        ) from exc
    print(f"{out} ({len(pdf)} bytes): {number}")
    print(f"check it offline / 离线核验: gw-elicense verify {out} --cert registry.pem")
    return 0
