"""`gateway demo`: the whole story in one command — the gateway, the simulated parties, six real cases."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
import unicodedata
from pathlib import Path

from sqlalchemy import select

from gateway.blobs import DirectoryBlobStore
from gateway.cli.common import Subparsers
from gateway.db.tables.certificates import CertificateRow
from gateway.logging import configure_logging
from gateway.settings import Settings
from sandbox.backoffice_work import leave_work
from sandbox.stage import DEMO_PASSWORD, PORTAL_USERS, STAFF, Stage, StageOptions
from sandbox.story import Outcome, walk


def register(subparsers: Subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="walk real cases end to end against simulated banks, tax bureau and utilities / 端到端演示",
        description="Starts the gateway with every simulated party and walks six real cases over HTTP with real "
        "SM2 signatures. Embedded default: SQLite and in-process delivery, in a fresh --data-dir.",
    )
    demo.add_argument(
        "--data-dir", type=Path, default=Path("var/demo"), help="wiped and reused (default var/demo)"
    )
    demo.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1/test (default: SQLite)")
    demo.add_argument("--redis-url", help="e.g. redis://127.0.0.1:6379/2: deliveries through arq workers")
    demo.add_argument(
        "--processes",
        type=int,
        default=0,
        help="run N gateway processes and N workers (default: in this process)",
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="keep serving after the walk (Ctrl-C stops)"
    )
    demo.set_defaults(run=_demo)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary(outcomes: list[Outcome]) -> str:
    """The table a newcomer reads: case, kind, time to certificate against the one-hour target, numbers, utilities."""
    header = [
        "#",
        "业务 case",
        "银行 bank",
        "结果 state",
        "出证 to certificate",
        "证号 certificate numbers",
        "水电气网",
    ]
    rows = []
    for i, o in enumerate(outcomes, 1):
        seconds = o.seconds_to_certificate
        timing = (
            "—" if seconds is None else f"{seconds:.1f} s {'≤ 1 h ✓' if o.within_one_hour else '> 1 h ✗'}"
        )
        state = o.state if not o.refusal else f"refused: {o.refusal}"
        rows.append(
            [str(i), o.title, o.bank, state, timing, "\n".join(o.certificates) or "—", o.utilities or "—"]
        )
    widths = [
        max(_width(line) for r in [header, *rows] for line in r[c].split("\n")) for c in range(len(header))
    ]
    lines = ["  ".join(_cell(h, w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [c.split("\n") for c in row]
        for k in range(max(len(c) for c in cells)):
            lines.append(
                "  ".join(_cell(c[k] if k < len(c) else "", w) for c, w in zip(cells, widths, strict=True))
            )
    return "\n".join(lines)


async def _export(stage: Stage, outcomes: list[Outcome]) -> list[tuple[str, Path, str]]:
    """Write each issued certificate (PDF and OFD) to data_dir/certificates; find its verification page."""
    folder = stage.settings.data_dir / "certificates"
    folder.mkdir(parents=True, exist_ok=True)
    db = await stage.database()
    blobs = DirectoryBlobStore(stage.settings.effective_blob_dir())
    found = []
    try:
        async with db.session() as session:
            for outcome in outcomes:
                for number in outcome.certificates:
                    row = (
                        await session.execute(select(CertificateRow).where(CertificateRow.number == number))  # type: ignore[arg-type]
                    ).scalar_one()
                    path = folder / f"{number.replace('（', '(').replace('）', ')')}.pdf"
                    pdf = await blobs.get(row.pdf_ref) if row.pdf_ref else b""
                    await asyncio.to_thread(path.write_bytes, pdf)
                    if row.ofd:  # the same certificate as OFD (GB/T 33190), beside it
                        await asyncio.to_thread(path.with_suffix(".ofd").write_bytes, row.ofd)
                    found.append((number, path, f"{stage.base_url}/public/verify/{row.qr_token}"))
    finally:
        await db.dispose()
    return found


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("ERROR", json=False)
    data_dir: Path = args.data_dir
    await asyncio.to_thread(shutil.rmtree, data_dir, True)  # a fresh register every run
    started = time.monotonic()
    if args.redis_url and not args.processes:
        # With Redis the gateway hands deliveries to arq: nothing would run them without a worker process.
        args.processes = 1
        print(
            "with --redis-url deliveries need a worker: starting 1 gateway process and 1 worker / 已启动投递进程"
        )
    print(
        "启动网关与模拟参与方（17家银行、税务局、水电气网）… / starting the gateway and the simulated parties"
    )
    stage = await Stage.start(
        StageOptions(
            data_dir=data_dir,
            database_url=args.database_url,
            redis_url=args.redis_url,
            processes=args.processes,
        )
    )
    try:
        mode = "SQLite, in-process delivery" if not args.redis_url else "PostgreSQL + Redis (arq)"
        print(f"网关 gateway: {stage.base_url}  ({mode}; {args.processes or 1} process(es))\n")
        outcomes = await walk(stage, progress=print)
        print("\n" + summary(outcomes))
        exported = await _export(stage, outcomes)
        print(f"\n证照文件 certificates (SM2-signed PDF and OFD): {data_dir / 'certificates'}")
        for number, path, url in exported:
            print(f"  {number}\n    file:   {path}\n    verify: {url}")
        print(
            f"\n离线验证 offline check: gw-elicense verify '{exported[0][1]}' --cert-dir {data_dir / 'registry' / 'history'}"
            if exported
            else ""
        )
        print(f"接口文档 API docs: {stage.base_url}/docs    用时 took {time.monotonic() - started:.1f} s")
        failed = [o for o in outcomes if not o.as_expected]
        print(f"\n业务后台 back office: {stage.base_url}/backoffice/   password 密码: {DEMO_PASSWORD}")
        for username, roles in STAFF.items():
            print(f"  {username:<14} {'、'.join(r.label_zh for r in roles)}")
        print(
            f"银行端 bank counter: {stage.base_url}/bank/    联动单位 providers: {stage.base_url}/provider/"
        )
        for username, (roles, institution, branch) in PORTAL_USERS.items():
            where = f"{institution}{' ' + branch if branch else ''}"
            print(f"  {username:<14} {'、'.join(r.label_zh for r in roles)} ({where})")
        if args.keep_running:
            waiting = await leave_work(stage)
            print("\n待办 cases waiting for you:")
            for w in waiting:
                print(f"  {_cell(w.waits_for, 12)} {w.who:<12} {stage.base_url}/backoffice/cases/{w.case_id}")
            print("Ctrl-C to stop.")
            await asyncio.Event().wait()
        return 1 if failed else 0
    finally:
        await stage.stop()
