"""缮证 end to end per certificate (register read, render, sign, seal, store), beside render+sign alone.

Run: `.venv/bin/python bench/bench_certification.py [--count 60] [--database-url URL]`. The default database is
a fresh SQLite file; pass `postgresql+asyncpg://postgres@127.0.0.1:5432/DB` (an empty database) to measure
PostgreSQL. The same certificate is issued again and again (its file cleared in between), so the figure
is the handler's own cost, not the case workflow's. Wall-clock milliseconds: a busy neighbour shows here.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from sqlalchemy import update

import certs
from certs import FieldCipher
from e_license.samples import sample_proof
from e_license.signing import issue
from gateway.blobs import DirectoryBlobStore
from gateway.db.database import Database
from gateway.logging import configure_logging
from gateway.privacy import PersonalDataProtector
from gateway.seed import INSTITUTIONS, seed_demo_register
from gateway.services import cases, review, tracks
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from gateway.services.store_certificates import CERTIFICATE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.services import builders


async def registered_proof(ctx: ServiceContext) -> tuple[str, str]:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await review.register(ctx, "registrar-c", case.id)
    async with ctx.reading() as store:
        [entry] = [e for e in await store.entries_of(case.unit_code) if e.opened_by_case == case.id]
    assert entry.certificate_number
    return case.id, entry.certificate_number


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms   p90 {p90 * 1000:6.1f} ms"


async def run(url: str, count: int) -> None:
    db = Database(url)
    await db.migrate()
    cipher = FieldCipher(
        {"k1": secrets.token_bytes(16)}, current_key_id="k1", index_key=secrets.token_bytes(32)
    )
    ctx = ServiceContext(
        db=db,
        protector=PersonalDataProtector(cipher),
        institutions=dict(INSTITUTIONS),
        blobs=DirectoryBlobStore(Path(tempfile.mkdtemp(prefix="gw-bench-blobs-"))),
    )
    await seed_demo_register(ctx)
    ca = certs.CertificateAuthority.create("Bench CA")
    key = certs.SM2PrivateKey.generate()
    seal = RegistrySeal(key, ca.issue(key.public_key, "registry", "registry"), "https://bdc.dg.gov.cn")
    certification = Certification(ctx, seal)
    _case_id, number = await registered_proof(ctx)

    handler: list[float] = []
    sizes: list[int] = []
    for _ in range(count + 1):
        async with db.transaction() as uow:
            await uow.session.execute(
                update(CERTIFICATE).where(CERTIFICATE.c.number == number).values(pdf_ref=None)
            )
        started = time.perf_counter()
        assert await certification.issue_one(number)
        handler.append(time.perf_counter() - started)
    handler = handler[1:]  # the first call registers the font and warms the pools

    content = sample_proof()
    bare: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        signed = issue(content, key, seal.certificate)
        sizes.append(len(signed.distributable()))
        bare.append(time.perf_counter() - started)
    await db.dispose()

    print(f"database: {db.dialect}, {count} certificates")
    print(f"  缮证 handler (register → render → sign → seal → store): {milliseconds(handler)}")
    print(f"  render + sign only (e_license.issue):                   {milliseconds(bare)}")
    overhead = statistics.median(handler) - statistics.median(bare)
    print(f"  handler overhead (reads, sealing, transaction):          {overhead * 1000:6.1f} ms")
    print(f"  file size: {statistics.median(sizes) / 1024:.1f} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)
    # SQLModel nudges towards session.exec(); the Core statements here are deliberate (as in pyproject).
    warnings.filterwarnings(
        "ignore", message=r"\s*.*You probably want to use `session.exec", category=DeprecationWarning
    )
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        asyncio.run(run(url, args.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
