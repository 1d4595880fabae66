"""The OFD beside the PDF (GB/T 33190): the package's structure, its text against the PDF's, its signature.

The package is walked as the standard lays it out — OFD.xml → DocBody → DocRoot (Document.xml) →
CommonData (PublicRes, DocumentRes) and Pages → each page's Content.xml — and rendered to text from its
TextCode elements; `gw-elicense verify` checks both formats in a subprocess.
"""

from __future__ import annotations

import io
import json
import posixpath
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from lxml import etree

import certs
from e_license.samples import sample_ownership, sample_proof
from e_license.seal import sample_seal_png
from e_license.signing import SignedCertificate, issue

NS = {"ofd": "http://www.ofdspec.org/2016"}
SEAL = sample_seal_png("东莞市不动产登记中心")


@pytest.fixture(scope="module", params=["ownership", "proof"])
def signed(
    request: pytest.FixtureRequest, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> SignedCertificate:
    sample = sample_ownership if request.param == "ownership" else sample_proof
    return issue(sample().model_copy(update={"seal": SEAL}), registry_key, registry_cert)


class Package:
    """An OFD package read the way the standard describes it."""

    def __init__(self, data: bytes) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(data))

    def xml(self, name: str) -> etree._Element:
        return etree.fromstring(self.zip.read(name))

    def pages(self) -> list[tuple[str, etree._Element]]:
        root = self.xml("OFD.xml")
        assert root.tag == f"{{{NS['ofd']}}}OFD" and root.get("DocType") == "OFD"
        doc_root = root.findtext("ofd:DocBody/ofd:DocRoot", namespaces=NS)
        assert doc_root
        document = self.xml(doc_root)
        base = posixpath.dirname(doc_root)
        self.fonts = self._fonts(base, document)
        pages = []
        for page in document.findall("ofd:Pages/ofd:Page", NS):
            name = posixpath.join(base, page.get("BaseLoc"))
            pages.append((name, self.xml(name)))
        return pages

    def _fonts(self, base: str, document: etree._Element) -> dict[str, TTFont]:
        fonts = {}
        for res_name in ("PublicRes", "DocumentRes"):
            loc = document.findtext(f"ofd:CommonData/ofd:{res_name}", namespaces=NS)
            assert loc, f"{res_name} is declared"
            res = self.xml(posixpath.join(base, loc))
            res_base = posixpath.join(base, res.get("BaseLoc", ""))
            for font in res.findall("ofd:Fonts/ofd:Font", NS):
                file = posixpath.join(res_base, font.findtext("ofd:FontFile", namespaces=NS))
                fonts[font.get("ID")] = TTFont(io.BytesIO(self.zip.read(file)))
            for media in res.findall("ofd:MultiMedias/ofd:MultiMedia", NS):
                file = posixpath.join(res_base, media.findtext("ofd:MediaFile", namespaces=NS))
                assert self.zip.read(file)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")
        return fonts

    def text(self) -> list[str]:
        """Every TextCode, page by page, top to bottom: the package rendered to text."""
        lines = []
        for _name, page in self.pages():
            for obj in page.iter(f"{{{NS['ofd']}}}TextObject"):
                font = self.fonts[obj.get("Font")]
                for code in obj.findall("ofd:TextCode", NS):
                    text = code.text or ""
                    cmap = font.getBestCmap()
                    missing = [ch for ch in text if not ch.isspace() and ord(ch) not in cmap]
                    assert not missing, f"glyphs missing from the embedded font: {missing}"
                    deltas = (code.get("DeltaX") or "").split()
                    assert len(deltas) in (0, len(text) - 1), "one advance between each two characters"
                    lines.append(text)
        return lines


def squash(text: str) -> str:
    return "".join(text.split())


def test_the_package_follows_the_standards_structure_and_reads_like_the_pdf(
    signed: SignedCertificate, tmp_path: Path
) -> None:
    package = Package(signed.distributable_ofd())
    ofd_lines = package.text()
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(signed.pdf)
    pdf_text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pdf_lines = [squash(line) for line in pdf_text.splitlines() if line.strip()]
    ofd_all = squash("".join(ofd_lines))
    assert [line for line in pdf_lines if line not in ofd_all] == []
    assert [line for line in ofd_lines if squash(line) not in squash(pdf_text)] == []
    assert signed.number in ofd_all
    info = package.xml("OFD.xml").find("ofd:DocBody/ofd:DocInfo", NS)
    custom = {e.get("Name"): e.text for e in info.findall("ofd:CustomDatas/ofd:CustomData", NS)}
    assert custom == {"证照标识": signed.identifier, "证号": signed.number}


def test_the_ofd_is_signed_over_its_own_bytes(
    signed: SignedCertificate, registry_cert: certs.Certificate, tmp_path: Path
) -> None:
    assert certs.sm3_hex(signed.ofd) == signed.ofd_sm3_hex
    registry_cert.public_key.verify(signed.ofd_signature, signed.ofd)
    # OpenSSL verifies the same detached signature over the same bytes.
    (tmp_path / "signed.ofd").write_bytes(signed.ofd)
    (tmp_path / "sig.der").write_bytes(signed.ofd_signature)
    (tmp_path / "pub.pem").write_bytes(registry_cert.public_key.to_pem())
    result = subprocess.run(
        ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-sigopt",
         "distid:1234567812345678", "-signature", str(tmp_path / "sig.der"), str(tmp_path / "signed.ofd")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(signed.distributable_ofd()) < 150 * 1024


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e_license.cli", "verify", *args], capture_output=True, text=True, timeout=60
    )


def test_gw_elicense_verifies_both_formats_and_refuses_a_tampered_ofd(
    signed: SignedCertificate, registry_cert: certs.Certificate, tmp_path: Path
) -> None:
    pem = tmp_path / "registry.pem"
    pem.write_bytes(registry_cert.pem)
    for suffix, data in (("pdf", signed.distributable()), ("ofd", signed.distributable_ofd())):
        path = tmp_path / f"c.{suffix}"
        path.write_bytes(data)
        result = cli(str(path), "--cert", str(pem), "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert (report["valid"], report["format"], report["number"]) == (True, suffix, signed.number)
        assert "须向登记机构查询" in report["status_notice_zh"]

    data = bytearray(signed.distributable_ofd())
    data[200] ^= 0x01
    tampered = tmp_path / "tampered.ofd"
    tampered.write_bytes(bytes(data))
    result = cli(str(tampered), "--cert", str(pem), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and "SM3" in report["reason_zh"]

    appended = tmp_path / "appended.ofd"
    appended.write_bytes(signed.distributable_ofd() + b"x")
    assert cli(str(appended), "--cert", str(pem)).returncode == 1
