"""Materials are accepted by what they are: a PDF that parses without active content, a JPEG that decodes,
under a normalised name. Each refusal is a 422 naming the material, in Chinese and English."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from pypdf import PdfWriter

from gateway.blobs import blob_name
from gateway.client import GatewayClient, Reply
from sandbox.pdf import SAMPLE_PDF, build_pdf
from sandbox.stage import Stage, StageOptions
from sandbox.story import submission
from tests.services import builders

BANK = "psbc-dg"


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage"))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def case_id(stage: Stage) -> str:
    mortgage = builders.terms("PSBC-DK-2026-1127", "600000.00")
    payload = submission(builders.mortgage_registration(mortgage=mortgage), "松山湖支行", "柜员0101")
    reply = await stage.bank(BANK).post("/api/v1/cases", payload)
    assert reply.status == 201, reply.body[:300]
    return str(reply.json()["id"])


async def upload(bank: GatewayClient, case_id: str, name: str, content: bytes, kind: str = "pdf") -> Reply:
    content_type = "application/pdf" if kind == "pdf" else "image/jpeg"
    return await bank.request(
        "POST",
        f"/api/v1/cases/{case_id}/materials?name={quote(name, safe='')}",
        body=content,
        content_type=content_type,
        idempotency_key=str(uuid.uuid4()),
    )


def refusal(reply: Reply, name: str) -> dict[str, str]:
    assert reply.status == 422, reply.body[:400]
    assert reply.headers["Content-Type"] == "application/problem+json"
    [error] = reply.json()["errors"]
    assert error["reason_zh"].startswith(f"材料“{name}”") and f"material '{name}'" in error["reason_en"]
    return dict(error)


def pypdf_made(add: Any) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    add(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def with_declared_size(content: bytes, width: int, height: int) -> bytes:
    """The same JPEG, its frame header (SOF0) claiming another size: a decompression bomb's shape."""
    at = content.index(b"\xff\xc0") + 5  # marker, length (2), precision (1), then height and width
    return content[:at] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + content[at + 4 :]


HOSTILE_PDFS = {
    "html-polyglot.pdf": (
        b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n",
        "HTML",
    ),
    "html-inside.pdf": (build_pdf(prefix=b"<html><script>alert(1)</script></html>\n"), "HTML"),
    "cut.pdf": (SAMPLE_PDF[: len(SAMPLE_PDF) // 2], "PDF"),
    "open-js.pdf": (build_pdf("/OpenAction 4 0 R", ["<</S/JavaScript/JS(app.alert(1))>>"]), "JavaScript"),
    "escaped-js.pdf": (build_pdf("/OpenAction<</S/Java#53cript/J#53(app.alert(1))>>"), "JavaScript"),
    "names-js.pdf": (
        build_pdf(
            "/Names<</JavaScript 4 0 R>>", ["<</Names[(a) 5 0 R]>>", "<</S/JavaScript/JS(app.alert(1))>>"]
        ),
        "JavaScript",
    ),
    "launch.pdf": (build_pdf("/OpenAction<</S/Launch/F(cmd.exe)>>"), "Launch"),
    "attached.pdf": (pypdf_made(lambda w: w.add_attachment("run.exe", b"MZ\x90\x00")), "embedded"),
    # 6,000 tiny objects: minutes of parsing at 10 MiB, refused from the cross-reference table alone
    "many-objects.pdf": (build_pdf("", ["<</N 1>>"] * 6000), "too many objects"),
    # Past 64 KiB the checks run in a worker thread: the same refusals
    "large-js.pdf": (
        build_pdf("/OpenAction 4 0 R", ["<</S/JavaScript/JS(app.alert(1))>>", "(" + "x" * 200_000 + ")"]),
        "JavaScript",
    ),
}


async def test_hostile_pdfs_are_refused_naming_the_material_and_why(stage: Stage, case_id: str) -> None:
    # Was: every one accepted, since only the first five bytes (%PDF-) were checked.
    bank = stage.bank(BANK)
    for name, (content, why) in HOSTILE_PDFS.items():
        error = refusal(await upload(bank, case_id, name, content), name)
        assert error["field"] == "content" and why in error["reason_en"], (name, error)
    materials = (await bank.get(f"/api/v1/cases/{case_id}")).json()["materials"]
    assert {m["name"] for m in materials}.isdisjoint(HOSTILE_PDFS)


async def test_a_hostile_pdf_in_a_submission_names_its_place_and_stores_no_case(stage: Stage) -> None:
    bank = stage.bank(BANK)
    mortgage = builders.terms("PSBC-DK-2026-1127", "600000.00")
    payload = submission(builders.mortgage_registration(mortgage=mortgage), "松山湖支行", "柜员0101")
    content, _ = HOSTILE_PDFS["open-js.pdf"]
    payload["materials"].append(
        {
            "name": "合同.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(content).decode(),
        }
    )
    error = refusal(await bank.post("/api/v1/cases", payload), "合同.pdf")
    assert error["field"] == "materials.1.content"
    assert "JavaScript" in error["reason_zh"]
    assert (await bank.get("/api/v1/cases")).json()["cases"] == []


async def test_good_pdfs_and_jpegs_are_accepted(stage: Stage, case_id: str) -> None:
    bank = stage.bank(BANK)
    for name, content, kind in (
        ("抵押合同.pdf", SAMPLE_PDF, "pdf"),
        ("written-by-pypdf.pdf", pypdf_made(lambda w: None), "pdf"),
        ("身份证.jpg", jpeg(), "jpeg"),
        ("扫描件.jpg", jpeg((1600, 1200)), "jpeg"),
        ("large.pdf", build_pdf("", ["(" + "x" * 200_000 + ")"] + ["<</N 1>>"] * 400), "pdf"),
    ):
        reply = await upload(bank, case_id, name, content, kind)
        assert reply.status == 201, (name, reply.body[:300])
        assert reply.json()["name"] == name


async def test_jpegs_that_do_not_decode_or_declare_a_bomb_are_refused(stage: Stage, case_id: str) -> None:
    bank = stage.bank(BANK)
    good = jpeg()
    cut = refusal(await upload(bank, case_id, "cut.jpg", good[: len(good) // 2], "jpeg"), "cut.jpg")
    assert "decoded" in cut["reason_en"]
    for width, height in ((9000, 6000), (60000, 60000)):  # ours refuses the first, Pillow's the second
        bomb = with_declared_size(good, width, height)
        too_large = refusal(await upload(bank, case_id, "bomb.jpg", bomb, "jpeg"), "bomb.jpg")
        assert "too many pixels" in too_large["reason_en"] and "像素" in too_large["reason_zh"]
    html = refusal(await upload(bank, case_id, "page.jpg", b"\xff\xd8\xff<html>", "jpeg"), "page.jpg")
    assert html["field"] == "content"


async def test_names_are_stored_normalised_and_an_empty_one_is_refused(stage: Stage, case_id: str) -> None:
    # Was: stored exactly as given, path and line breaks included.
    bank = stage.bank(BANK)
    given = {
        "../../../etc/passwd.pdf": "passwd.pdf",
        "C:\\scans\\合同.pdf": "合同.pdf",
        "evil\r\nX-Injected: 1.pdf": "evilX-Injected: 1.pdf",
        "abc\u202egpj.pdf": "abcgpj.pdf",  # a right-to-left override that would show "abcfdp.jpg"
        "cafe\u0301.pdf": "caf\u00e9.pdf",  # NFD → NFC
    }
    for raw, stored in given.items():
        reply = await upload(bank, case_id, raw, SAMPLE_PDF)
        assert reply.status == 201, (raw, reply.body[:300])
        assert reply.json()["name"] == stored
    for raw in ("../", "\r\n", "..", "a/.."):
        reply = await upload(bank, case_id, raw, SAMPLE_PDF)
        assert reply.status == 422, (raw, reply.body[:300])
        [error] = reply.json()["errors"]
        assert error["field"] == "name" and "empty" in error["reason_en"]
    names = [m["name"] for m in (await bank.get(f"/api/v1/cases/{case_id}")).json()["materials"]]
    assert set(given.values()) <= set(names)
    assert not any("/" in n or "\\" in n or "\r" in n or "\n" in n for n in names)


async def test_a_material_lives_in_the_blob_store_and_the_back_office_reads_it_from_there(
    stage: Stage, case_id: str
) -> None:
    content = pypdf_made(lambda w: None)
    reply = await upload(stage.bank(BANK), case_id, "合同.pdf", content)
    assert reply.status == 201, reply.body[:300]
    name = blob_name(content)
    stored = stage.settings.effective_blob_dir() / name[:2] / name[2:4] / name
    assert stored.read_bytes() == content  # the row holds only its SM3: the bytes are on the volume
    examiner = await stage.staff("examiner-a")
    shown = await examiner.get(f"/backoffice/api/v1/cases/{case_id}/materials/{reply.json()['id']}")
    assert shown.status == 200 and shown.body == content
