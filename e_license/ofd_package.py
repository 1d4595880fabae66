"""Carry a certificate's signature inside its OFD package, leaving the signed bytes intact.

An OFD is a ZIP archive. The signed bytes are the package as `write_ofd` produced it, whose end-of-central-
directory record (APPNOTE 4.3.16) ends with a zero comment length. The distributed file is the same bytes
with that length set and `signature.json` (the same blob as the PDF's, see signing.py) as the archive
comment: every ZIP and OFD reader opens it unchanged, and a verifier gets the signed bytes back by setting
the comment length to zero again and dropping the comment.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from lxml import etree

from gateway.errors import BadSignature, InputError

from .ofd import OFD_NS

ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_EOCD_COMMENT_LENGTH = 20  # offset of the comment length inside the end-of-central-directory record
_NS = {"ofd": OFD_NS}


def is_ofd(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def attach_ofd_signature(ofd: bytes, blob: bytes) -> bytes:
    """The distributed OFD: the signed package with `blob` as its archive comment. Deterministic."""
    if len(blob) > 0xFFFF:
        raise InputError("the signature blob is too large for a ZIP comment", "签名数据过大")
    at = ofd.rfind(_EOCD)
    if at < 0 or ofd[at + _EOCD_COMMENT_LENGTH :] != b"\x00\x00":
        raise InputError("not an OFD package written by e_license", "不是本系统生成的OFD文件")
    return ofd[: at + _EOCD_COMMENT_LENGTH] + len(blob).to_bytes(2, "little") + blob


def split_ofd_signature(data: bytes) -> tuple[bytes, bytes]:
    """(the signed package, the embedded signature.json) of a distributed OFD; BadSignature if absent."""
    at = data.rfind(_EOCD)
    if at < 0 or len(data) < at + _EOCD_COMMENT_LENGTH + 2:
        raise BadSignature("the OFD package has no end-of-central-directory record", "OFD文件结构不完整")
    length = int.from_bytes(data[at + _EOCD_COMMENT_LENGTH : at + _EOCD_COMMENT_LENGTH + 2], "little")
    blob = data[at + _EOCD_COMMENT_LENGTH + 2 :]
    if length == 0 or len(blob) != length:
        raise BadSignature(
            "the OFD carries no embedded signature (signature.json), or bytes were added after it",
            "OFD文件中没有内嵌签名，或签名之后被追加了内容",
        )
    return data[: at + _EOCD_COMMENT_LENGTH] + b"\x00\x00", blob


@dataclass(frozen=True)
class OfdDocInfo:
    """What the signed OFD.xml says about itself: the verifier binds the blob to these."""

    identifier: str | None
    number: str | None
    creation_date: str | None


def read_doc_info(package: bytes) -> OfdDocInfo:
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            root = etree.fromstring(archive.read("OFD.xml"), parser=etree.XMLParser(resolve_entities=False))
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as exc:
        raise BadSignature("the signed OFD package cannot be read", "已签名的OFD文件无法解析") from exc
    info = root.find("ofd:DocBody/ofd:DocInfo", _NS)
    if info is None:
        return OfdDocInfo(None, None, None)
    custom = {e.get("Name"): e.text for e in info.findall("ofd:CustomDatas/ofd:CustomData", _NS)}
    date = info.find("ofd:CreationDate", _NS)
    return OfdDocInfo(custom.get("证照标识"), custom.get("证号"), date.text if date is not None else None)
