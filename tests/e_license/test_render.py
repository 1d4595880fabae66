"""Rendered certificates: every field extracts as Chinese text, the QR code scans, output is reproducible."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
import zxingcpp
from PIL import Image

from e_license.content import CertificateContent, chinese_date
from e_license.render import render
from e_license.samples import sample_ownership, sample_proof
from gateway.errors import InputError

SAMPLES = {"ownership": sample_ownership(), "proof": sample_proof()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("certificates")
    paths = {}
    for name, content in SAMPLES.items():
        paths[name] = folder / f"{name}.pdf"
        paths[name].write_bytes(render(content))
    return paths


def _squash(text: str) -> str:
    return "".join(text.split())


def expected_texts(content: CertificateContent) -> list[str]:
    """Everything a reader must find on the page, labels and values alike."""
    texts = [content.kind.title_zh, content.number_text, str(content.identifier), content.issuer_name]
    texts += [chinese_date(content.issue_date), "附记", "登记机构（章）", *content.remarks]
    for label, value in content.rows():
        texts.append(label)
        texts += [line for line in value.splitlines() if line]
    return texts


def _pypdf_text(path: Path) -> str:
    return str(pypdf.PdfReader(path).pages[0].extract_text())


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("extract", [_pypdf_text, _pdftotext], ids=["pypdf", "pdftotext"])
def test_every_label_and_value_extracts_as_chinese_text(
    rendered: dict[str, Path], name: str, extract: object
) -> None:
    assert callable(extract)
    text = _squash(extract(rendered[name]))
    missing = [item for item in expected_texts(SAMPLES[name]) if _squash(item) not in text]
    assert not missing, f"not found in the extracted text: {missing}"


def test_co_owners_and_their_shares_are_on_the_ownership_certificate(rendered: dict[str, Path]) -> None:
    text = _squash(_pdftotext(rendered["ownership"]))
    assert "陈美玲、黄志强" in text
    assert "按份共有：陈美玲占60%，黄志强占40%" in text


def test_the_maximum_amount_mortgage_terms_are_on_the_proof(rendered: dict[str, Path]) -> None:
    text = _squash(_pdftotext(rendered["proof"]))
    for item in [
        "抵押方式：最高额抵押",
        "最高债权额：3,200,000.00元",
        "债权确定期间：2026年11月27日起2046年11月26日止",
        "抵押顺位：1",
    ]:
        assert item in text


@pytest.mark.parametrize("name", SAMPLES)
def test_the_qr_code_scans_to_the_verification_url(
    rendered: dict[str, Path], name: str, tmp_path: Path
) -> None:
    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-singlefile", str(rendered[name]), str(prefix)], check=True
    )
    codes = zxingcpp.read_barcodes(Image.open(f"{prefix}.png"))
    assert [(code.format, code.text) for code in codes] == [
        (zxingcpp.BarcodeFormat.QRCode, SAMPLES[name].verification_url)
    ]


@pytest.mark.parametrize("name", SAMPLES)
def test_one_a4_page_with_only_embedded_subset_fonts(rendered: dict[str, Path], name: str) -> None:
    reader = pypdf.PdfReader(rendered[name])
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    fonts = subprocess.run(
        ["pdffonts", str(rendered[name])], check=True, capture_output=True, text=True
    ).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:  # name, type, encoding, emb, sub, uni, ...
        assert "WenQuanYiZenHei" in row and row.split()[-5:-2] == ["yes", "yes", "yes"], fonts


def test_metadata_names_the_certificate(rendered: dict[str, Path]) -> None:
    info = pypdf.PdfReader(rendered["proof"]).metadata
    content = SAMPLES["proof"]
    assert info is not None
    assert info.subject == str(content.identifier)
    assert info.title == f"不动产登记证明 {content.number_text}"
    assert info["/CreationDate"].startswith("D:20261127")


def test_the_same_content_renders_to_the_same_bytes_in_another_process() -> None:
    here = hashlib.sha256(render(SAMPLES["ownership"])).hexdigest()
    assert hashlib.sha256(render(SAMPLES["ownership"])).hexdigest() == here
    script = (
        "import hashlib; from e_license.render import render; from e_license.samples import sample_ownership;"
        "print(hashlib.sha256(render(sample_ownership())).hexdigest())"
    )
    # A build machine exporting SOURCE_DATE_EPOCH (reportlab reads it) must not change the bytes.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1234567890", "TZ": "America/New_York"}
    there = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env
    )
    assert there.stdout.strip() == here


def test_different_content_renders_differently() -> None:
    assert render(sample_ownership(seq=1)) != render(sample_ownership(seq=2))


def test_a_long_remark_shrinks_the_text_and_stays_on_one_page() -> None:
    remarks = tuple(
        f"第{i}条附记：共有人身份证明、婚姻状况声明与原权属来源说明已核验存档。" for i in range(1, 11)
    )
    content = sample_ownership().model_copy(update={"remarks": remarks})
    reader = pypdf.PdfReader(io.BytesIO(render(content)))
    assert len(reader.pages) == 1
    text = _squash(reader.pages[0].extract_text())
    assert all(_squash(remark) in text for remark in remarks)


def test_content_that_cannot_fit_one_page_is_refused_with_the_reason() -> None:
    content = sample_ownership().model_copy(update={"remarks": tuple("很长的附记" * 20 for _ in range(60))})
    with pytest.raises(InputError) as caught:
        render(content)
    assert "一页容纳不下" in caught.value.message_zh
