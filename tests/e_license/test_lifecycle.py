"""A certificate's life through the services, on SQLite and PostgreSQL: 缮证, delivery, 注销, 作废, 换发."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pypdf
import pytest
from sqlalchemy import select

import certs
from e_license import LicenseIdentifier, verify_detached, verify_file
from gateway.api.public import check_file
from gateway.db.outbox import claim_due
from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.infra import AuditRecord, OutboxRow
from gateway.domain.register import EntryKind
from gateway.domain.workflow import CaseState
from gateway.errors import ConfigError, Conflict
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.runner import DeliveryRunner, Outcome
from gateway.seed import BANKS, CERT_LI_WANG, PROOF_LI_WANG_ICBC, UNITS, ZHANG_WEI
from gateway.services import cases, review, tracks
from gateway.services.certificate_lookup import find_by_token
from gateway.services.certification import Certification, RegistrySeal, certification_handlers
from gateway.services.context import ServiceContext
from gateway.settings import Settings
from tests.conftest import with_pdf
from tests.services import builders
from tests.services.conftest import make_context

BASE_URL = "https://bdc.dg.gov.cn"
BOC = BANKS["boc-dg"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceContext]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    context = await make_context(url)
    try:
        yield context
    finally:
        await context.db.dispose()


@pytest.fixture
def certification(
    ctx: ServiceContext, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> Certification:
    return Certification(ctx, RegistrySeal(registry_key, registry_cert, BASE_URL))


async def outbox(ctx: ServiceContext, case_id: str | None = None, job: str | None = None) -> list[OutboxRow]:
    stmt = select(OutboxRow).order_by(OutboxRow.created_at)  # type: ignore[arg-type]
    if case_id is not None:
        stmt = stmt.where(OutboxRow.case_id == case_id)
    if job is not None:
        stmt = stmt.where(OutboxRow.job == job)
    async with ctx.db.session() as s:
        return list((await s.execute(stmt)).scalars())


async def certificate(ctx: ServiceContext, number: str) -> Any:
    async with ctx.db.session() as s:
        row = (await s.execute(select(CertificateRow).where(CertificateRow.number == number))).scalar_one()
    return await with_pdf(ctx.blobs, row)


async def case_certificates(ctx: ServiceContext, case_id: str) -> list[Any]:
    async with ctx.db.session() as s:
        rows = await s.execute(select(CertificateRow).where(CertificateRow.case_id == case_id))
        found = sorted(rows.scalars(), key=lambda r: (r.kind, r.number))
    return [await with_pdf(ctx.blobs, row) for row in found]


async def run_issue_jobs(certification: Certification, case_id: str | None = None) -> int:
    """What the dispatcher does with the certificate.issue rows: hand each to the registered handler."""
    handler = certification.handlers()["certificate.issue"]
    rows = await outbox(certification.services, case_id, "certificate.issue")
    for row in rows:
        await handler(None, row)  # type: ignore[arg-type]  # the handler needs no JobContext
    return len(rows)


def pdf_text(pdf: bytes) -> str:
    return "".join(str(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()).split())


async def registered_mortgage(ctx: ServiceContext) -> str:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    case = await review.register(ctx, "registrar-c", case.id)
    assert case.state is CaseState.REGISTERED
    return case.id


async def page_of(ctx: ServiceContext, token: str | None) -> str:
    """What the verification page shows for the QR token: its facts (the page itself: tests/api)."""
    assert token is not None
    record = await find_by_token(ctx.db, ctx.registry, token)
    assert record is not None
    return record.facts.model_dump_json()


async def test_mortgage_proof_is_issued_delivered_and_cancelled_on_release(
    ctx: ServiceContext, certification: Certification, registry_cert: certs.Certificate
) -> None:
    case_id = await registered_mortgage(ctx)
    assert await run_issue_jobs(certification, case_id) == 1

    case = await cases.get_case(ctx, case_id)
    assert case.state is CaseState.CERTIFIED
    [proof] = await case_certificates(ctx, case_id)
    assert proof.pdf and proof.sm3 and proof.signature and proof.identifier and proof.qr_token
    assert len(proof.qr_token) == 32 and proof.issued_at is not None
    text = pdf_text(proof.pdf)
    assert proof.number in text and BOC.name in text and "抵押权" in text and "张伟" in text
    result = verify_file(proof.pdf, registry_cert)
    assert (result.number, result.identifier, result.sm3_hex) == (proof.number, proof.identifier, proof.sm3)
    signed = proof.pdf[: result.signed_length]
    assert verify_detached(signed, proof.signature, registry_cert) == proof.sm3
    assert f"{BASE_URL}/public/verify/{proof.qr_token}" in pdf_text(proof.pdf).replace("核验地址：", "")

    deliveries = [
        r for r in await outbox(ctx, case_id, "bank.notify") if r.payload["event"] == "certificate_issued"
    ]
    assert [(r.target, r.payload["certificate_number"]) for r in deliveries] == [("boc-dg", proof.number)]

    # The job runs again (a retry, a sweep): nothing is issued or delivered twice.
    rows_before = len(await outbox(ctx))
    assert await run_issue_jobs(certification, case_id) == 1
    assert await certification.issue_case(case_id) == []
    again = await certificate(ctx, proof.number)
    assert (again.pdf, again.qr_token, again.issued_at) == (proof.pdf, proof.qr_token, proof.issued_at)
    assert len(await outbox(ctx)) == rows_before, "no second delivery to the bank"

    page = await page_of(ctx, proof.qr_token)
    assert "有效" in page and proof.number in page and BOC.name in page and proof.identifier in page
    assert ZHANG_WEI.id_number not in page and BOC.credit_code not in page, "no ID number on a public page"

    release = await cases.submit(
        ctx,
        "boc-dg",
        "松山湖支行",
        "clerk-01",
        builders.mortgage_release(unit_code=UNITS.single_owner, proof_number=proof.number),
    )
    assert release.state is CaseState.COMPLETED
    page = await page_of(ctx, proof.qr_token)
    assert '"已注销"' in page and '"status_changed_on":"20' in page, "the page shows since when"
    verdict = await check_file(ctx.db, ctx.registry, registry_cert, proof.pdf)
    assert (verdict.result, verdict.in_force, verdict.certificate and verdict.certificate.status) == (
        "valid",
        False,
        "cancelled",
    )


async def test_transfer_voids_the_old_certificate_and_issues_the_new_ones(
    ctx: ServiceContext, certification: Certification, registry_cert: certs.Certificate
) -> None:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.transfer())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await tracks.record_bank_result(
        ctx, case.id, f"settlement:{PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank:icbc-dg"
    )
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.register(ctx, "registrar-c", case.id)

    old = await certificate(ctx, CERT_LI_WANG)
    assert old.status == "void" and old.status_changed_at is not None

    await run_issue_jobs(certification, case.id)
    assert (await cases.get_case(ctx, case.id)).state is CaseState.CERTIFIED
    ownership, proof = await case_certificates(ctx, case.id)
    assert (ownership.kind, proof.kind) == ("ownership", "proof")
    owner_text = pdf_text(ownership.pdf or b"")
    for expected in (
        "不动产权证书",
        ownership.number,
        "刘洋",
        "单独所有",
        "城镇住宅用地/住宅",
        "2075年6月30日止",
    ):
        assert expected in owner_text, expected
    assert f"原不动产权证号：{CERT_LI_WANG}" in owner_text
    proof_text = pdf_text(proof.pdf or b"")
    assert f"原不动产权证号：{ownership.number}" in proof_text, (
        "the new mortgage rests on the new certificate"
    )
    for row in (ownership, proof):
        assert verify_file(row.pdf or b"", registry_cert).number == row.number
    notified = [
        r.payload["certificate_number"]
        for r in await outbox(ctx, case.id, "bank.notify")
        if r.payload["event"] == "certificate_issued"
    ]
    assert notified == [ownership.number, proof.number]


async def test_reissue_takes_a_new_number_bumps_the_version_and_voids_the_old(
    ctx: ServiceContext, certification: Certification, registry_cert: certs.Certificate
) -> None:
    case_id = await registered_mortgage(ctx)
    await run_issue_jobs(certification, case_id)
    [first] = await case_certificates(ctx, case_id)

    new_number = await certification.reissue(
        first.number.replace("（", "(").replace("）", ")"), actor="registrar-c", reason="证书污损换发"
    )
    assert new_number != first.number and new_number.endswith("第0000002号")
    old, new = await certificate(ctx, first.number), await certificate(ctx, new_number)
    assert old.status == "void" and old.status_changed_at is not None
    old_id, new_id = (
        LicenseIdentifier.parse(old.identifier or ""),
        LicenseIdentifier.parse(new.identifier or ""),
    )
    assert (new_id.serial, new_id.version, new.version) == (old_id.serial, 2, 2)
    assert new.pdf and new.qr_token != old.qr_token
    result = verify_file(new.pdf, registry_cert)
    assert (result.number, result.identifier) == (new_number, str(new_id))
    text = pdf_text(new.pdf)
    assert f"原证号{first.number}同时作废" in text and "证书污损换发" in text

    async with ctx.reading() as store:
        mortgage = next(e for e in await store.entries_of(UNITS.single_owner) if e.kind is EntryKind.MORTGAGE)
    assert mortgage.certificate_number == new_number, "later cases quote the new number"
    assert "已作废" in await page_of(ctx, old.qr_token)
    assert "有效" in await page_of(ctx, new.qr_token)
    async with ctx.db.session() as s:
        audit = (
            await s.execute(select(AuditRecord).where(AuditRecord.action == "certificate.reissued"))
        ).scalar_one()
    assert audit.actor == "registrar-c" and audit.details["new_number"] == new_number

    # The re-issue's own job finds the file already stored; the old number cannot be re-issued again.
    before = new.pdf
    await run_issue_jobs(certification)
    assert (await certificate(ctx, new_number)).pdf == before
    with pytest.raises(Conflict, match="is void"):
        await certification.reissue(first.number, actor="registrar-c", reason="again")

    # The case's bank is sent the new file once (the job's re-run stored nothing and wrote nothing).
    to_bank = [
        row.payload
        for row in await outbox(ctx, case_id, "bank.notify")
        if row.payload.get("certificate_number") == new_number
    ]
    assert to_bank == [
        {
            "case_id": case_id,
            "event": "certificate_issued",
            "reason": to_bank[0]["reason"],
            "certificate_number": new_number,
            "replaces": first.number,
        }
    ]
    # The old file never reached the bank; once the new one has, the case is complete (the void one
    # is not waited for).
    assert (await tracks.certificate_delivered(ctx, case_id, new_number)).state is CaseState.COMPLETED


async def test_a_crash_after_one_certificate_finishes_only_what_is_missing(
    ctx: ServiceContext, certification: Certification, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.transfer())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await tracks.record_bank_result(
        ctx, case.id, f"settlement:{PROOF_LI_WANG_ICBC}", confirmed=True, actor="bank:icbc-dg"
    )
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.register(ctx, "registrar-c", case.id)

    original = Certification.issue_one
    calls: list[str] = []

    async def crash_on_second(self: Certification, number: str, reissue: Any = None) -> bool:
        calls.append(number)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return await original(self, number, reissue)

    monkeypatch.setattr(Certification, "issue_one", crash_on_second)
    with pytest.raises(RuntimeError):
        await run_issue_jobs(certification, case.id)
    ownership, proof = await case_certificates(ctx, case.id)
    assert ownership.pdf is not None and proof.pdf is None
    assert (await cases.get_case(ctx, case.id)).state is CaseState.REGISTERED
    stored = ownership.pdf

    monkeypatch.setattr(Certification, "issue_one", original)
    assert await certification.issue_case(case.id) == [proof.number], "only the missing one is rendered"
    ownership, proof = await case_certificates(ctx, case.id)
    assert ownership.pdf == stored and proof.pdf is not None
    assert (await cases.get_case(ctx, case.id)).state is CaseState.CERTIFIED


async def test_export_and_show_from_the_command_line_then_verify_offline(
    tmp_path: Path, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    ctx = await make_context(url)
    try:
        case_id = await registered_mortgage(ctx)
        await Certification(ctx, RegistrySeal(registry_key, registry_cert, BASE_URL)).issue_case(case_id)
        [proof] = await case_certificates(ctx, case_id)
    finally:
        await ctx.db.dispose()
    # The command reads the file from the same blob store the services wrote it to.
    env = {
        **os.environ,
        "GW_DATABASE_URL": url,
        "GW_DATA_DIR": str(tmp_path),
        "GW_BLOB_DIR": str(ctx.blobs.root),
    }
    half_width = proof.number.replace("（", "(").replace("）", ")")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", *argv], env=env, capture_output=True, text=True, timeout=60
        )

    shown = run("gateway.cli", "certificates", "show", half_width)
    assert shown.returncode == 0, shown.stderr
    assert proof.number in shown.stdout and "有效" in shown.stdout and case_id in shown.stdout

    out = tmp_path / "proof.pdf"
    exported = run("gateway.cli", "certificates", "export", proof.number, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == proof.pdf
    (tmp_path / "registry.pem").write_bytes(registry_cert.pem)
    verified = run("e_license.cli", "verify", str(out), "--cert", str(tmp_path / "registry.pem"))
    assert verified.returncode == 0 and proof.number in verified.stdout, verified.stderr

    missing = run("gateway.cli", "certificates", "show", "粤（2026）东莞市不动产证明第0999999号")
    assert missing.returncode == 1 and "未找到" in missing.stdout


def test_the_seal_refuses_a_key_that_is_not_the_registry_certificates(
    ca: certs.CertificateAuthority, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    bank_key = certs.SM2PrivateKey.generate()
    with pytest.raises(ConfigError, match="registry"):
        RegistrySeal(bank_key, registry_cert, BASE_URL)
    with pytest.raises(ConfigError, match="registry"):
        RegistrySeal(bank_key, ca.issue(bank_key.public_key, "boc-dg", "bank"), BASE_URL)
    seal = RegistrySeal(registry_key, registry_cert, BASE_URL + "/")
    assert seal.verification_url("t" * 32) == f"{BASE_URL}/public/verify/{'t' * 32}"


async def test_the_delivery_runner_settles_the_issue_job(
    ctx: ServiceContext, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    """The handler as the dispatcher runs it: registered by name, claimed, run, marked delivered."""
    case_id = await registered_mortgage(ctx)
    seal = RegistrySeal(registry_key, registry_cert, BASE_URL)
    jobs = JobRegistry(certification_handlers(ctx, seal))
    async with aiohttp.ClientSession() as http:
        runner = DeliveryRunner(ctx.db, jobs, JobContext(ctx.db, http, registry_key, Settings()))
        claimed = [r for r in await claim_due(ctx.db, "test-worker") if r.job == "certificate.issue"]
        assert [r.case_id for r in claimed] == [case_id]
        assert await runner.run(claimed[0]) is Outcome.DELIVERED
    [row] = await outbox(ctx, case_id, "certificate.issue")
    assert row.status == "delivered"
    assert (await cases.get_case(ctx, case_id)).state is CaseState.CERTIFIED
