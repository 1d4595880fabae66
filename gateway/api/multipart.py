"""A multipart/form-data body parsed from memory: the text fields and the files of a browser's form.

The middleware has already read (and size-checked) every body before a handler runs, so aiohttp's own
streaming reader (`request.post()`, `request.multipart()`) finds the stream consumed; this reads the
bytes it kept instead.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field

__all__ = ["MultipartForm", "UploadedFile", "is_multipart", "parse_multipart"]


@dataclass(frozen=True)
class UploadedFile:
    name: str  # the form field's name
    filename: str
    data: bytes


@dataclass(frozen=True)
class MultipartForm:
    fields: dict[str, str] = field(default_factory=dict)  # text fields (first of each name), stripped
    files: list[UploadedFile] = field(default_factory=list)

    def file(self, name: str | None = None) -> UploadedFile | None:
        """The first file part (of field `name`, if given)."""
        return next((f for f in self.files if name is None or f.name == name), None)


def is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "multipart/form-data"


def parse_multipart(content_type: str, body: bytes) -> MultipartForm:
    """The parts of `body`; a body that is not well-formed multipart gives an empty form."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        # aiohttp decoded the header as UTF-8 with surrogateescape: this gives back the bytes as sent.
        b"Content-Type: " + content_type.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body
    )
    form = MultipartForm()
    if not message.is_multipart():
        return form
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        filename = part.get_filename()
        if filename is not None:
            form.files.append(UploadedFile(name, filename, payload))
        elif name not in form.fields:
            form.fields[name] = payload.decode("utf-8", "replace").strip()
    return form
