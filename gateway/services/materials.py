"""Application materials (申请材料): what a bank may upload, checked by content and hashed with SM3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from certs import sm3_hex
from gateway.domain.materials import MaterialKind
from gateway.errors import FieldReason, InputError

MAX_MATERIAL_BYTES = 10 * 1024 * 1024
# Declared type → the first bytes every such file starts with (a renamed .exe is not a PDF).
_MAGIC = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff"}


@dataclass(frozen=True)
class MaterialUpload:
    name: str
    content_type: str
    content: bytes
    kind: MaterialKind = MaterialKind.OTHER  # what a rule may read it as (e.g. a co-owners' waiver)

    def __post_init__(self) -> None:
        reasons: list[FieldReason] = []
        if not 1 <= len(self.name) <= 200:
            reasons.append(
                FieldReason("name", "材料名称须为1–200个字符", "the name must be 1–200 characters")
            )
        magic = _MAGIC.get(self.content_type)
        if magic is None:
            reasons.append(
                FieldReason("content_type", "只接受PDF或JPEG文件", "only PDF and JPEG files are accepted")
            )
        elif not self.content.startswith(magic):
            reasons.append(
                FieldReason(
                    "content", "文件内容与声明的类型不符", f"the content is not a {self.content_type} file"
                )
            )
        if not self.content:
            reasons.append(FieldReason("content", "文件为空", "the file is empty"))
        if len(self.content) > MAX_MATERIAL_BYTES:
            reasons.append(
                FieldReason(
                    "content",
                    "单个材料不得超过10 MiB",
                    f"a material may be at most {MAX_MATERIAL_BYTES} bytes",
                )
            )
        if reasons:
            raise InputError("the material was refused", "材料不符合要求", reasons)


@dataclass(frozen=True)
class MaterialRecord:
    id: str
    case_id: str
    name: str
    content_type: str
    size: int
    sm3: str
    round: int
    uploaded_at: datetime
    kind: MaterialKind = MaterialKind.OTHER


def digest(content: bytes) -> str:
    return sm3_hex(content)
