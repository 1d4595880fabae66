"""What an issued certificate carries (issue 19): building facts, 附图页, 受理编号, seal, title, 附记, SM3s.

Through the services on SQLite and PostgreSQL: the register import sets the unit's facts, a case is
registered and certified, and the stored file is read back as a holder would (pdftotext, pdftoppm).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pypdf
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

import certs
from e_license import verify_file
from e_license.seal import sample_seal_png
from gateway.db.tables.certificates import CertificateRow
from gateway.register_exchange import read_records
from gateway.seed import PROOF_LI_WANG_ICBC, UNITS
from gateway.services import cases, review, tracks
from gateway.services.certificate_lookup import find_by_token
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from gateway.services.register_import import export_register, import_register
from tests.conftest import with_pdf
from tests.services import builders
from tests.services.conftest import make_context

BASE_URL = "https://bdc.dg.gov.cn"
SEAL = sample_seal_png("东莞市不动产登记中心")
BUILDING_FACTS = {
    "structure": "钢筋混凝土结构",
    "total_floors": 18,
    "floor": "1",
    "exclusive_area": "105.26",
    "shared_area": "23.10",
    "completed_on": "2008-06-30",
    "land_terms": [
        {"use": "城镇住宅用地", "start": "2005-07-01", "end": "2075-06-30"},
        {"use": "商服用地", "start": "2005-07-01", "end": "2045-06-30"},
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceContext]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}" if request.param == "sqlite" else None
    context = await make_context(url or request.getfixturevalue("pg_url"))
    try:
        yield context
    finally:
        await context.db.dispose()


@pytest.fixture
def certification(
    ctx: ServiceContext, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> Certification:
    return Certification(ctx, RegistrySeal(registry_key, registry_cert, BASE_URL, seal_image=SEAL))


def plan_png() -> bytes:
    image = Image.new("RGB", (640, 480), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 600, 440), outline="black", width=6)
    draw.line((320, 40, 320, 440), fill="black", width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def set_unit_facts(ctx: ServiceContext, unit_code: str, **facts: Any) -> None:
    """The registry's way to change a unit's surveyed facts: export its record, edit it, import it."""
    lines = [line async for line in export_register(ctx)]
    records = [
        dict(r)
        for _, r in read_records("x.jsonl", b"".join(lines).decode().splitlines())
        if isinstance(r, dict)
    ]
    record = next(r for r in records if r["unit"]["unit_code"] == unit_code)
    record["unit"].update(facts)
    report = await import_register(ctx, [(1, orjson.loads(orjson.dumps(record)))], actor="test")
    assert not report.refused, report.refused
    assert report.updated == 1


async def certified_transfer(
    ctx: ServiceContext, certification: Certification
) -> tuple[str, list[CertificateRow]]:
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
    await certification.issue_case(case.id)
    async with ctx.db.session() as s:
        rows = await s.execute(select(CertificateRow).where(CertificateRow.case_id == case.id))
    # Each row with its PDF read back from the blob store, as a holder's file.
    found = [await with_pdf(ctx.blobs, r) for r in rows.scalars()]
    return case.id, sorted(found, key=lambda r: r.kind)


def _files(package: bytes) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as ofd:
        return [ofd.read(name) for name in ofd.namelist()]


def pdftotext(pdf: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def squash(text: str) -> str:
    return "".join(text.split())


async def test_building_facts_per_use_terms_and_the_plan_page(
    ctx: ServiceContext, certification: Certification, registry_cert: certs.Certificate, tmp_path: Path
) -> None:
    plan = "data:image/png;base64," + base64.b64encode(plan_png()).decode()
    await set_unit_facts(ctx, UNITS.co_owned_mortgaged, plan=plan, **BUILDING_FACTS)
    _, (ownership, proof) = await certified_transfer(ctx, certification)
    assert ownership.pdf and proof.pdf

    reader = pypdf.PdfReader(io.BytesIO(ownership.pdf))
    assert len(reader.pages) == 2, "the ownership certificate has its 附图页"
    page_one = squash(str(reader.pages[0].extract_text()))
    for line in (
        "专有建筑面积：105.26㎡，分摊建筑面积：23.10㎡",
        "房屋结构：钢筋混凝土结构",
        "房屋总层数：18层，所在层：1层",
        "房屋竣工时间：2008年6月30日",
        "城镇住宅用地：2005年7月1日起2075年6月30日止",
        "商服用地：2005年7月1日起2045年6月30日止",
    ):
        assert line in page_one, line
    page_two = squash(str(reader.pages[1].extract_text()))
    assert "附图页" in page_two and ownership.number in page_two
    assert reader.pages[1].images, "the plan image is on the second page"
    assert verify_file(ownership.pdf, registry_cert).number == ownership.number
    # The OFD has the 附图页 too: a second page with the plan as its image.
    with zipfile.ZipFile(io.BytesIO(ownership.ofd or b"")) as ofd:
        names = ofd.namelist()
    assert sorted(n for n in names if n.endswith("Content.xml")) == [
        "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Pages/Page_1/Content.xml",
    ]
    assert plan_png() in [ofd_file for ofd_file in _files(ownership.ofd or b"")]
    # The proof has no 附图页: one page, and no blank second one.
    assert len(pypdf.PdfReader(io.BytesIO(proof.pdf)).pages) == 1


async def test_a_unit_without_a_plan_gets_one_page(
    ctx: ServiceContext, certification: Certification, tmp_path: Path
) -> None:
    _, (ownership, _proof) = await certified_transfer(ctx, certification)
    assert len(pypdf.PdfReader(io.BytesIO(ownership.pdf or b"")).pages) == 1


async def test_case_number_is_the_receipt_number_and_the_title_extracts_as_words(
    ctx: ServiceContext, certification: Certification, tmp_path: Path
) -> None:
    case_id, (ownership, proof) = await certified_transfer(ctx, certification)
    case = await cases.get_case(ctx, case_id)
    assert case.receipt_number is not None
    assert re.fullmatch(r"\d{4}-441900-\d{6}", case.receipt_number)
    for row, title in ((ownership, "中华人民共和国不动产权证书"), (proof, "不动产登记证明")):
        text = pdftotext(row.pdf or b"", tmp_path)
        assert f"业务件号：{case.receipt_number}" in squash(text)
        assert case_id not in squash(text), "the 32-character id is not printed"
        assert title in text.splitlines()[0], "the spaced title extracts as one word"


async def test_receipt_numbers_count_up_per_registry_and_year(ctx: ServiceContext) -> None:
    first = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    second = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.transfer())
    assert first.receipt_number and second.receipt_number
    year, code, seq = first.receipt_number.split("-")
    assert second.receipt_number == f"{year}-{code}-{int(seq) + 1:06d}"
    assert (await cases.get_case(ctx, second.id)).receipt_number == second.receipt_number


async def test_reissued_certificate_keeps_the_old_number_on_one_line_and_is_sealed(
    ctx: ServiceContext, certification: Certification, tmp_path: Path
) -> None:
    _, (ownership, _proof) = await certified_transfer(ctx, certification)
    new_number = await certification.reissue(ownership.number, actor="registrar-c", reason="证书污损")
    async with ctx.db.session() as s:
        row = await with_pdf(
            ctx.blobs,
            (await s.execute(select(CertificateRow).where(CertificateRow.number == new_number))).scalar_one(),
        )
    text = pdftotext(row.pdf or b"", tmp_path)
    assert any(ownership.number in line for line in text.splitlines()), "the old number is on one line"
    # The seal is an image inside the signed bytes, drawn where 登记机构（章） is.
    reader = pypdf.PdfReader(io.BytesIO(row.pdf or b""))
    assert reader.pages[0].images, "the seal image is on the page"


async def test_verification_page_names_both_digests(
    ctx: ServiceContext, certification: Certification, tmp_path: Path
) -> None:
    _, (ownership, _proof) = await certified_transfer(ctx, certification)
    record = await find_by_token(ctx.db, ctx.registry, ownership.qr_token or "")
    assert record is not None
    # The page shows both, named (tests/api/test_public_verification.py): the signed range's and the file's.
    file_sm3 = certs.sm3_hex(ownership.pdf or b"")
    assert record.facts.sm3 == ownership.sm3
    assert record.facts.file_sm3 == file_sm3 != record.facts.sm3
