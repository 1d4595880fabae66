"""Rotating the registry's signing key: certificates signed before stay valid, new ones use the new key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

import certs
from gateway.api import create_app
from gateway.bootstrap import build_container
from gateway.cli import main as gateway_main
from gateway.db.tables.certificates import CertificateRow
from gateway.services import cases, review, tracks
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from gateway.settings import Settings
from tests.conftest import with_pdf
from tests.services import builders
from tests.services.conftest import make_context

BASE_URL = "https://bdc.dg.gov.cn"


async def issue_proof(ctx: ServiceContext, seal: RegistrySeal) -> Any:
    """A mortgage proof through the services (受理 → 登簿 → 缮证), signed with `seal`."""
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await review.register(ctx, "registrar-c", case.id)
    [number] = await Certification(ctx, seal).issue_case(case.id)
    async with ctx.db.session() as session:
        found = await session.execute(select(CertificateRow).where(CertificateRow.number == number))
        row = found.scalar_one()
    return await with_pdf(ctx.blobs, row)


def signer_serial(distributed: bytes) -> int:
    """The serial of the signer certificate embedded in the file's signature.json."""
    from e_license.embedding import read_signature_blob

    blob = json.loads(read_signature_blob(distributed))
    return certs.Certificate.from_pem(blob["signer_certificate"].encode()).serial


def run(module: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command as an operator runs it, in its own process, with only the GW_* variables given."""
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        env={k: v for k, v in os.environ.items() if not k.startswith("GW_")} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def verify_offline(file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run("e_license.cli", "verify", str(file), *options)


async def test_certificates_signed_before_a_rotation_still_verify_after_it(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    settings = Settings(data_dir=data_dir, database_url=database_url, public_base_url=BASE_URL)
    env = {"GW_DATA_DIR": str(data_dir), "GW_DATABASE_URL": database_url}
    ctx = await make_context(database_url)
    try:
        first = build_container(settings, database=ctx.db, services=ctx)  # embedded: makes CA and key
        old_cert = first.registry_cert
        assert old_cert is not None
        before = await issue_proof(ctx, RegistrySeal(first.registry_key, old_cert, BASE_URL))
        assert before.pdf is not None and signer_serial(before.pdf) == old_cert.serial

        rotated = await asyncio.to_thread(run, "gateway.cli", "keys", "rotate-registry", **env)
        assert rotated.returncode == 0, rotated.stderr
        assert f"{old_cert.serial:X} → " in rotated.stdout

        # The restarted gateway signs with the new key and still trusts the old certificate.
        second = build_container(settings, database=ctx.db, services=ctx)
        new_cert = second.registry_cert
        assert new_cert is not None and new_cert.serial != old_cert.serial
        assert second.registry_key.public_key != first.registry_key.public_key
        after = await issue_proof(ctx, RegistrySeal(second.registry_key, new_cert, BASE_URL))
        assert after.pdf is not None and signer_serial(after.pdf) == new_cert.serial

        client = TestClient(TestServer(create_app(second, dispatch=False)))
        await client.start_server()
        try:
            for row in (before, after):
                response = await client.post(
                    "/public/api/v1/verify", data=row.pdf, headers={"Content-Type": "application/pdf"}
                )
                verdict = await response.json()
                assert response.status == 200, verdict
                assert (verdict["result"], verdict["in_force"]) == ("valid", True), verdict
                assert verdict["certificate"]["number"] == row.number
        finally:
            await client.close()
    finally:
        await ctx.db.dispose()

    # Offline: the history directory holds every registry certificate; the current one alone is not enough
    # for a file signed before the rotation.
    old_file, new_file = tmp_path / "before.pdf", tmp_path / "after.pdf"
    old_file.write_bytes(before.pdf)
    new_file.write_bytes(after.pdf)
    history = data_dir / "registry" / "history"
    assert {p.name for p in history.glob("*.pem")} == {f"{old_cert.serial:X}.pem", f"{new_cert.serial:X}.pem"}
    for file, serial in ((old_file, old_cert.serial), (new_file, new_cert.serial)):
        verified = verify_offline(file, "--cert-dir", str(history))
        assert verified.returncode == 0, verified.stderr
        assert f"{serial:X}" in verified.stdout
    current = data_dir / "registry" / "registry.pem"
    assert verify_offline(new_file, "--cert", str(current)).returncode == 0
    refused = verify_offline(old_file, "--cert", str(current))
    assert refused.returncode == 1 and "not by the trusted registry certificate" in refused.stderr

    listed = run("gateway.cli", "keys", "registry", **env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert f"{new_cert.serial:X}" in lines[0] and "in use" in lines[0]
    assert f"{old_cert.serial:X}" in lines[1] and "retired" in lines[1]


def test_rotation_without_a_registry_key_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    assert gateway_main(["keys", "rotate-registry"], settings=settings) == 2
    assert "no CA in" in capsys.readouterr().err
