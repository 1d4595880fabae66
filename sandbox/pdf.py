"""Small, well-formed PDFs written by hand (objects, xref table, trailer): the sample material a simulated
bank uploads, and — with extra catalog entries or objects — the hostile ones the tests try."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SAMPLE_PDF", "build_pdf"]


def build_pdf(catalog_extra: str = "", objects: Sequence[str] = (), *, prefix: bytes = b"") -> bytes:
    """A one-page PDF 1.7. `catalog_extra` is added to the catalog (e.g. "/OpenAction 4 0 R"), `objects`
    become objects 4, 5, ... in order; `prefix` goes right after the header line (e.g. HTML)."""
    bodies = [
        f"<</Type/Catalog/Pages 2 0 R{catalog_extra}>>",
        "<</Type/Pages/Kids[3 0 R]/Count 1>>",
        "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + prefix)
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(bodies) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<</Size {len(bodies) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# A one-page PDF, as a scanned contract would arrive (materials are parsed, not only checked by name).
SAMPLE_PDF = build_pdf()
