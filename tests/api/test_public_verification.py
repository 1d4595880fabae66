"""Public certificate verification over real HTTP: the QR page, JSON look-ups and file uploads, no sign-in."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

import certs
from gateway.api.public import MAX_UPLOAD_BYTES, PUBLIC_LOOKUP_FAILURES
from gateway.db import Database
from gateway.db.tables.certificates import CertificateRow
from gateway.db.tables.register import UnitRow
from gateway.seed import BANKS, INSTITUTIONS, LIU_YANG, ZHANG_WEI, seed_demo_register
from gateway.services import cases, kept_mortgages, review, tracks
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from tests.api.support import Participants
from tests.conftest import blob_store, with_pdf
from tests.services import builders
from tests.services.conftest import make_protector

BASE_URL = "https://bdc.dg.gov.cn"
Serve = Callable[..., Any]


@pytest.fixture
def registry_cert(participants: Participants) -> certs.Certificate:
    return participants.ca.issue(participants.registry_key.public_key, "registry", "registry")


@pytest.fixture
async def ctx(database: Database) -> ServiceContext:
    context = ServiceContext(
        db=database, protector=make_protector(), institutions=dict(INSTITUTIONS), blobs=blob_store()
    )
    await seed_demo_register(context)
    return context


@pytest.fixture
def certification(
    ctx: ServiceContext, participants: Participants, registry_cert: certs.Certificate
) -> Certification:
    return Certification(ctx, RegistrySeal(participants.registry_key, registry_cert, BASE_URL))


async def issued(ctx: ServiceContext, number: str) -> Any:
    """The certificate's row with its PDF read back from the blob store (`pdf`), as a holder's file."""
    async with ctx.db.session() as s:
        row = (await s.execute(select(CertificateRow).where(CertificateRow.number == number))).scalar_one()
    return await with_pdf(ctx.blobs, row)


@pytest.fixture
async def proof(ctx: ServiceContext, certification: Certification) -> CertificateRow:
    """A mortgage proof issued through the services (登簿 → 缮证) on the test's database."""
    case = await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())
    await tracks.record_bank_result(ctx, case.id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await review.register(ctx, "registrar-c", case.id)
    [number] = await certification.issue_case(case.id)
    return await issued(ctx, number)


@pytest.fixture
async def ownership(ctx: ServiceContext, certification: Certification) -> CertificateRow:
    """The buyer's 不动产权证书 after a second-hand transfer (刘洋 buys from 李娜 and 王强)."""
    case = await cases.submit(
        ctx,
        "boc-dg",
        "松山湖支行",
        "clerk-01",
        builders.transfer(release_proof_numbers=[], new_mortgage=None, mortgagee_consent=True),
    )
    # 带押过户: the mortgagee of record (icbc-dg) consents itself, as its signed callback would record.
    await kept_mortgages.record_consent(
        ctx, case.id, builders.PROOF_LI_WANG_ICBC, consented=True, actor="bank:icbc-dg"
    )
    await tracks.record_tax_assessment(ctx, case.id, {"assessment_id": "A1"}, actor="tax")
    await review.review(ctx, "examiner-a", case.id, "first")
    await review.review(ctx, "examiner-b", case.id, "second")
    await tracks.record_tax_cleared(ctx, case.id, {"assessment_id": "A1", "voucher": "V1"}, actor="tax")
    await review.register(ctx, "registrar-c", case.id)
    [number] = await certification.issue_case(case.id)
    return await issued(ctx, number)


@pytest.fixture
async def client(serve: Serve, registry_cert: certs.Certificate) -> TestClient[Any, Any]:
    # No dispatcher: the fixtures issue certificates through the services themselves, and a dispatcher in
    # the served app would work their outbox rows at the same time — with another PII key (every delivery
    # failing and retrying) and the same 缮证 job racing `issue_case` — a second writer on the SQLite file
    # during the fixtures' set-up, where a run once hung until the timeout.
    return await serve(parts={"registry_cert": registry_cert}, public_base_url=BASE_URL, dispatch=False)  # type: ignore[no-any-return]


async def test_the_qr_page_shows_status_and_masked_holder(
    client: TestClient[Any, Any], proof: CertificateRow
) -> None:
    response = await client.get(f"/public/verify/{proof.qr_token}", headers={"Accept": "text/html"})
    assert response.status == 200 and response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    for shown in (
        "不动产登记证明",
        proof.number,
        proof.identifier,
        "东莞市不动产登记中心",
        "有效",
        BANKS["boc-dg"].name,
    ):
        assert shown and shown in page, shown
    assert ZHANG_WEI.id_number not in page

    unknown = await client.get("/public/verify/" + "x" * 32, headers={"Accept": "text/html"})
    assert unknown.status == 404 and "未找到该电子证照" in await unknown.text()
    api_unknown = await client.get("/public/api/v1/verify/" + "x" * 32)
    assert api_unknown.status == 404 and api_unknown.content_type == "application/problem+json"


async def test_an_ownership_certificate_shows_the_owner_masked(
    client: TestClient[Any, Any], ownership: CertificateRow
) -> None:
    facts = await (await client.get(f"/public/api/v1/verify/{ownership.qr_token}")).json()
    assert (facts["document"], facts["holder"], facts["status_zh"]) == ("不动产权证书", "刘*", "有效")
    page = await (
        await client.get(f"/public/verify/{ownership.qr_token}", headers={"Accept": "text/html"})
    ).text()
    assert "刘*" in page and "刘洋" not in page and LIU_YANG.id_number not in page


async def test_json_by_token_and_by_identifier(
    client: TestClient[Any, Any], proof: CertificateRow, ctx: ServiceContext
) -> None:
    by_token = await client.get(f"/public/api/v1/verify/{proof.qr_token}")
    assert by_token.status == 200
    facts = await by_token.json()
    assert facts["number"] == proof.number and facts["identifier"] == proof.identifier
    assert (facts["status"], facts["status_zh"], facts["holder"]) == ("valid", "有效", BANKS["boc-dg"].name)
    assert facts["document"] == "不动产登记证明" and facts["issuer"] == "东莞市不动产登记中心"
    assert facts["issued_on"] and facts["status_changed_on"] is None

    by_identifier = await client.get(
        f"/public/api/v1/certificates/{proof.identifier}", params={"token": str(proof.qr_token)}
    )
    assert await by_identifier.json() == facts
    assert (facts["unit_code"], facts["location"]) == (
        proof.unit_code,
        await _unit_address(ctx, proof.unit_code),
    )

    assert (await client.get("/public/api/v1/verify/" + "A" * 32)).status == 404
    malformed = await client.get("/public/api/v1/certificates/1.2.156.3005.2.nonsense")
    problem = await malformed.json()
    assert malformed.status == 422 and problem["code"] == "invalid_input" and problem["errors"]
    identifier = str(proof.identifier)
    mistyped = identifier[:-1] + ("0" if identifier[-1] != "0" else "1")
    assert (await client.get(f"/public/api/v1/certificates/{mistyped}")).status == 422, "check character"


async def test_upload_of_the_genuine_file_is_valid_and_one_changed_byte_is_not(
    client: TestClient[Any, Any], proof: CertificateRow, ctx: ServiceContext
) -> None:
    proof_blobs = ctx.blobs
    pdf = await proof_blobs.get(proof.pdf_ref)
    genuine = await client.post(
        "/public/api/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    verdict = await genuine.json()
    assert genuine.status == 200, verdict
    assert (verdict["result"], verdict["in_force"], verdict["sm3"]) == ("valid", True, proof.sm3)
    assert verdict["certificate"]["number"] == proof.number and verdict["certificate"]["status_zh"] == "有效"

    form = FormData()
    form.add_field("file", pdf, filename="certificate.pdf", content_type="application/pdf")
    as_form = await client.post("/public/api/v1/verify", data=form)
    assert (await as_form.json())["result"] == "valid", "a browser's multipart upload works the same"

    for position in (len(pdf) // 3, len(pdf) - 40):  # inside the signed range, then inside the seal
        changed = bytearray(pdf)
        changed[position] ^= 0x01
        response = await client.post("/public/api/v1/verify", data=bytes(changed))
        verdict = await response.json()
        assert response.status == 200
        assert verdict["result"] == "invalid" and verdict["certificate"] is None
        assert verdict["reason"] and verdict["reason_zh"], verdict

    # The OFD of the same certificate is checked the same way, against the OFD the registry signed.
    ofd = bytes(proof.ofd or b"")
    as_ofd = await client.post("/public/api/v1/verify", data=ofd, headers={"Content-Type": "application/ofd"})
    verdict = await as_ofd.json()
    assert (verdict["result"], verdict["sm3"]) == ("valid", proof.ofd_sm3), verdict
    changed_ofd = bytearray(ofd)
    changed_ofd[300] ^= 0x01
    verdict = await (await client.post("/public/api/v1/verify", data=bytes(changed_ofd))).json()
    assert verdict["result"] == "invalid"

    too_big = await client.post("/public/api/v1/verify", data=pdf + b"\0" * MAX_UPLOAD_BYTES)
    assert too_big.status == 413 and (await too_big.json())["code"] == "payload_too_large"
    empty = await client.post("/public/api/v1/verify", data=b"")
    assert empty.status == 422


async def test_public_routes_are_documented(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/openapi.json")).json()
    assert "/public/verify/{token}" not in spec["paths"], "the QR code's page is a page, not the API"
    assert {
        "/public/api/v1/verify/{token}",
        "/public/api/v1/certificates/{identifier}",
        "/public/api/v1/verify",
    } <= set(spec["paths"])
    assert spec["paths"]["/public/api/v1/verify"]["post"].get("security", []) == []


async def _gw_elicense(*args: str) -> tuple[int, dict[str, Any]]:
    """`gw-elicense verify … --json` in a subprocess, while this event loop keeps serving the gateway."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "e_license.cli", "verify", *args, "--json", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, json.loads(out)


async def test_gw_elicense_asks_the_register_whether_a_genuine_certificate_is_still_in_force(
    client: TestClient[Any, Any],
    certification: Certification,
    ownership: CertificateRow,
    participants: Participants,
    tmp_path: Path,
) -> None:
    file, ca_pem = tmp_path / "c.pdf", tmp_path / "ca.pem"
    file.write_bytes(ownership.pdf or b"")
    ca_pem.write_bytes(participants.ca.certificate.pem)
    base = str(client.make_url("/"))

    # The CA alone trusts the registry certificate the file names; offline, the status is not known.
    code, report = await _gw_elicense(str(file), "--ca", str(ca_pem))
    assert code == 0 and report["valid"] and report["status"] is None
    assert "须向登记机构查询" in report["status_notice_zh"]
    code, report = await _gw_elicense(str(file), "--ca", str(ca_pem), "--online", base)
    assert (code, report["status"], report["in_force"]) == (0, "valid", True)

    await certification.reissue(ownership.number, actor="registrar-c", reason="证书污损")
    code, report = await _gw_elicense(str(file), "--ca", str(ca_pem), "--online", base)
    assert (code, report["valid"], report["status"], report["in_force"]) == (3, True, "void", False)
    assert report["status_zh"] == "已作废"

    # Another CA: the signature is not trusted, and the JSON says why.
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(certs.CertificateAuthority.create("Other CA").certificate.pem)
    code, report = await _gw_elicense(str(file), "--ca", str(other_ca))
    assert code == 1 and report["valid"] is False and "登记机构证书" in report["reason_zh"]


async def _unit_address(ctx: ServiceContext, unit_code: str) -> str:
    async with ctx.db.session() as s:
        unit = (await s.execute(select(UnitRow).where(UnitRow.unit_code == unit_code))).scalar_one()
    return str(unit.facts["address"])


async def test_identifiers_cannot_be_counted_through_the_public_api(
    client: TestClient[Any, Any], proof: CertificateRow, ownership: CertificateRow
) -> None:
    """Identifiers are structured (registry, year, sequence): whoever could count them could list every
    certificate with its holder. A look-up by identifier answers only to the QR token or the file's SM3."""
    bare = await client.get(f"/public/api/v1/certificates/{proof.identifier}")
    assert bare.status in (404, 422), "an identifier alone tells nothing"
    assert "holder" not in await bare.text() and BANKS["boc-dg"].name not in await bare.text()

    url = f"/public/api/v1/certificates/{proof.identifier}"
    with_token = await client.get(url, params={"token": str(proof.qr_token)})
    with_sm3 = await client.get(url, params={"sm3": str(proof.sm3)})
    assert with_token.status == with_sm3.status == 200
    assert (await with_token.json())["number"] == (await with_sm3.json())["number"] == proof.number
    with_ofd_sm3 = await client.get(url, params={"sm3": str(proof.ofd_sm3)})
    assert with_ofd_sm3.status == 200, "gw-elicense checking the OFD asks with the OFD's SM3"

    # Another certificate's token, a wrong SM3 and an identifier nobody holds: the same 404, byte for byte.
    answers = []
    for identifier, params in (
        (proof.identifier, {"token": str(ownership.qr_token)}),
        (proof.identifier, {"sm3": str(ownership.sm3)}),
        (ownership.identifier, {"token": str(proof.qr_token)}),
    ):
        refused = await client.get(f"/public/api/v1/certificates/{identifier}", params=params)
        assert refused.status == 404
        body = await refused.json()
        answers.append((body["code"], body["detail"], body["detail_zh"]))
    assert len(set(answers)) == 1, answers


async def test_failed_look_ups_by_identifier_are_limited_per_address(
    client: TestClient[Any, Any], proof: CertificateRow, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"/public/api/v1/certificates/{proof.identifier}"
    statuses = [
        (await client.get(url, params={"token": "x" * 32})).status for _ in range(PUBLIC_LOOKUP_FAILURES + 1)
    ]
    assert statuses[:-1] == [404] * PUBLIC_LOOKUP_FAILURES
    limited = await client.get(url, params={"token": str(proof.qr_token)})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0, "even the right token, now"
    assert (await limited.json())["code"] == "too_many_requests"
    # The QR page itself is not held up: its token is unguessable, and a citizen scanning it is not counting.
    assert (await client.get(f"/public/api/v1/verify/{proof.qr_token}")).status == 200


async def test_the_qr_page_shows_the_unit_and_offers_the_upload_form(
    client: TestClient[Any, Any], proof: CertificateRow, ctx: ServiceContext
) -> None:
    """A certificate bearing another certificate's QR code is caught by comparing 坐落 and 单元号."""
    page = await (await client.get(f"/public/verify/{proof.qr_token}")).text()
    address = await _unit_address(ctx, proof.unit_code)
    for shown in ("坐落", address, "不动产单元号", proof.unit_code):
        assert shown in page, shown
    # Which SM3 is which: the signature's range (the PDF as signed), and the whole file a holder has.
    assert re.search(r"签名范围：签名时的PDF）</dt><dd[^>]*>" + str(proof.sm3), page)
    assert re.search(r"完整文件：含内嵌签名）</dt><dd[^>]*>" + str(proof.file_sm3), page)
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    assert 'type="file"' in page and "<style" not in page, "CSP: styles from /static only"


async def test_the_upload_form_checks_a_file_and_refuses_what_is_not_a_certificate(
    client: TestClient[Any, Any], proof: CertificateRow, ctx: ServiceContext
) -> None:
    """The page's form (multipart, CSRF token from the pre-session cookie), as a browser posts it."""
    page = await (await client.get("/public/verify")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None, "the form carries its CSRF token"
    pdf = await ctx.blobs.get(str(proof.pdf_ref))

    async def upload(data: bytes, filename: str, csrf: str = token.group(1)) -> tuple[int, str]:
        form = FormData()
        form.add_field("csrf_token", csrf)
        form.add_field("file", data, filename=filename, content_type="application/pdf")
        response = await client.post("/public/verify", data=form)
        return response.status, await response.text()

    status, result = await upload(pdf, "证书.pdf")
    address = await _unit_address(ctx, proof.unit_code)
    assert status == 200 and "文件真实，证照有效" in result and 'id="verdict"' in result
    assert address in result and proof.unit_code in result and str(proof.sm3) in result

    changed = bytearray(pdf)
    changed[len(pdf) // 3] ^= 0x01
    status, result = await upload(bytes(changed), "证书.pdf")
    assert status == 200 and "未通过核验" in result and address not in result

    status, result = await upload(b"GIF89a not a certificate", "证书.pdf")
    assert status == 422 and "该文件不是PDF或OFD文件" in result, "the content decides, not the name"
    status, result = await upload(b"", "")
    assert status == 422 and "请选择要核验的证照文件" in result
    status, result = await upload(pdf + b"\0" * MAX_UPLOAD_BYTES, "证书.pdf")
    assert status == 422 and "文件超过5MB" in result, "a file past the limit is refused on the page"
    status, _ = await upload(pdf + b"\0" * (3 * MAX_UPLOAD_BYTES), "证书.pdf")
    assert status == 413, "a body past the page's own limit is refused before it is parsed"

    forged, _ = await upload(pdf, "证书.pdf", csrf="0" * 64)
    assert forged == 403, "a form posted from another site is refused"

    english = await client.get("/public/lang/en", params={"next": f"/public/verify/{proof.qr_token}"})
    assert english.url.path == f"/public/verify/{proof.qr_token}"
    text = await english.text()
    assert "Location (坐落)" in text and "Check the file" in text and address in text
    outside = await client.get("/public/lang/en", params={"next": "//evil.example/"}, allow_redirects=False)
    assert outside.headers["Location"] == "/public/verify", "no open redirect"
