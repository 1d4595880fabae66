"""Carry a certificate's signature inside its PDF as an incremental update, leaving the signed bytes intact.

The distributed file is the signed PDF, byte for byte, followed by one incremental update (ISO 32000-1
§7.5.6) that adds an embedded file `signature.json` to the document's attachments and points the catalog
at it. A viewer opens the updated document and lists the attachment; a verifier takes the first
`signed_length` bytes back out. Only the classic cross-reference tables reportlab writes are supported.
"""

from __future__ import annotations

import re

from gateway.errors import BadSignature, InputError

ATTACHMENT_NAME = "signature.json"
# Marks the embedded file object so the reader finds it without a full PDF parser.
_STREAM_HEAD = b"<< /Type /EmbeddedFile /Subtype /application#2Fjson /Length "
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_TRAILER_INT = r"/{key}\s+(\d+)(?:\s+(\d+)\s+R)?"
_ID = re.compile(rb"/ID\s*(\[[^\]]*\])")


def attach_signature_blob(pdf: bytes, blob: bytes) -> bytes:
    """Return `pdf` + an incremental update embedding `blob` as signature.json. Deterministic."""
    prev_xref = _last_startxref(pdf)
    trailer = _trailer(pdf, prev_xref)
    size = _trailer_int(trailer, "Size")
    root = _trailer_ref(trailer, "Root")
    if root is None:
        raise _damaged("no /Root in the trailer")
    info = _trailer_ref(trailer, "Info")
    ids = _ID.search(trailer)
    catalog = _object_body(pdf, prev_xref, root)
    if b"/Names" in catalog:
        raise InputError(
            "the PDF already has a name dictionary; only certificates rendered by e_license can be sealed",
            "该PDF已有名称字典，只能为本系统生成的证书嵌入签名",
        )
    stream_obj, spec_obj, tree_obj, names_obj = size, size + 1, size + 2, size + 3
    out = bytearray(pdf)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets: dict[int, int] = {}

    def add(number: int, generation: int, body: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d %d obj\n" % (number, generation) + body + b"\nendobj\n")

    add(stream_obj, 0, _STREAM_HEAD + b"%d >>\nstream\n" % len(blob) + blob + b"\nendstream")
    add(
        spec_obj,
        0,
        b"<< /Type /Filespec /F (%s) /UF (%s) /Desc (SM2 signature of this certificate) "
        b"/EF << /F %d 0 R /UF %d 0 R >> >>"
        % (ATTACHMENT_NAME.encode(), ATTACHMENT_NAME.encode(), stream_obj, stream_obj),
    )
    add(tree_obj, 0, b"<< /Names [(%s) %d 0 R] >>" % (ATTACHMENT_NAME.encode(), spec_obj))
    add(names_obj, 0, b"<< /EmbeddedFiles %d 0 R >>" % tree_obj)
    add(root[0], root[1], catalog[: catalog.rindex(b">>")].rstrip() + b" /Names %d 0 R >>" % names_obj)

    xref_at = len(out)
    # The free-list head first, as writers conventionally do: readers (pypdf) treat a table that does not
    # start at object 0 as suspect and may renumber its entries.
    out += b"xref\n0 1\n0000000000 65535 f \n"
    out += b"%d 1\n%010d %05d n \n" % (root[0], offsets[root[0]], root[1])
    out += b"%d 4\n" % stream_obj
    for number in (stream_obj, spec_obj, tree_obj, names_obj):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root %d %d R" % (size + 4, root[0], root[1])
    if info is not None:
        out += b" /Info %d %d R" % info
    if ids is not None:
        out += b" /ID " + ids.group(1)
    out += b" /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (prev_xref, xref_at)
    return bytes(out)


def read_signature_blob(data: bytes) -> bytes:
    """The embedded signature.json of a distributed certificate; `BadSignature` when there is none."""
    head = data.rfind(_STREAM_HEAD)
    match = re.compile(rb"(\d+) >>\nstream\n").match(data, head + len(_STREAM_HEAD)) if head >= 0 else None
    if match is None:
        raise BadSignature(
            "the file carries no embedded signature (signature.json): not a certificate issued by this "
            "registry, or it was re-saved by another program",
            "文件中没有内嵌签名（signature.json）：不是本登记机构签发的电子证照，或已被其他软件另存",
        )
    start = match.end()
    blob = data[start : start + int(match.group(1))]
    if data[start + len(blob) : start + len(blob) + 10] != b"\nendstream":
        raise BadSignature("the embedded signature is truncated or damaged", "内嵌签名数据不完整或已损坏")
    return blob


def _damaged(what: str) -> InputError:
    return InputError(f"not a PDF this module can update: {what}", f"PDF结构无法解析：{what}")


def _last_startxref(pdf: bytes) -> int:
    match = _STARTXREF.search(pdf[-64:])
    if match is None:
        raise _damaged("no startxref at the end")
    return int(match.group(1))


def _trailer(pdf: bytes, xref_at: int) -> bytes:
    if pdf[xref_at : xref_at + 4] != b"xref":
        raise _damaged("cross-reference streams are not supported")
    start = pdf.find(b"trailer", xref_at)
    end = pdf.find(b"startxref", start)
    if start < 0 or end < 0:
        raise _damaged("no trailer")
    return pdf[start:end]


def _trailer_int(trailer: bytes, key: str) -> int:
    match = re.search(_TRAILER_INT.format(key=key).encode(), trailer)
    if match is None:
        raise _damaged(f"no /{key} in the trailer")
    return int(match.group(1))


def _trailer_ref(trailer: bytes, key: str) -> tuple[int, int] | None:
    match = re.search(_TRAILER_INT.format(key=key).encode(), trailer)
    if match is None or match.group(2) is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _object_body(pdf: bytes, xref_at: int, ref: tuple[int, int]) -> bytes:
    """The dictionary of object `ref`, found through the cross-reference table."""
    offset = _xref_offset(pdf, xref_at, ref[0])
    header = b"%d %d obj" % ref
    if pdf[offset : offset + len(header)] != header:
        raise _damaged(f"object {ref[0]} is not where the cross-reference table says")
    end = pdf.find(b"endobj", offset)
    body = pdf[offset + len(header) : end].strip()
    if not (body.startswith(b"<<") and body.endswith(b">>")):
        raise _damaged(f"object {ref[0]} is not a dictionary")
    return body


def _xref_offset(pdf: bytes, xref_at: int, number: int) -> int:
    position = xref_at + len(b"xref")
    lines = iter(pdf[position : pdf.find(b"trailer", position)].split(b"\n"))
    for line in lines:
        parts = line.split()
        if len(parts) != 2:
            continue
        first, count = int(parts[0]), int(parts[1])
        entries = [next(lines) for _ in range(count)]
        if first <= number < first + count:
            return int(entries[number - first][:10])
    raise _damaged(f"object {number} is not in the cross-reference table")
