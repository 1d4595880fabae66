"""What a material's bytes are: a PDF that parses and carries no active content, or a JPEG that decodes.

The magic bytes alone let through a `%PDF-` + HTML polyglot (a page that runs script once someone opens the
"PDF" in a browser); so a PDF is parsed with pypdf and each of its objects inspected, and a JPEG is decoded
with Pillow. Each check returns the reasons it refuses the bytes for (empty: accepted), in both languages.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

__all__ = ["MAX_JPEG_PIXELS", "MAX_PDF_OBJECTS", "inspect_jpeg", "inspect_pdf"]

Reason = tuple[str, str]  # (Chinese, English)

# A scanned A4 page at 600 dpi is ~35 megapixels; a decompression bomb declares far more. Below Pillow's own
# bomb warning (89 MP), so Pillow never warns or refuses first.
MAX_JPEG_PIXELS = 50_000_000
# Each object costs ~0.25 ms to read and walk (pure Python): 5,000 is ~1 s, and far more than a scanned
# application document needs (a few objects per page). More is refused, not read (a cheap CPU bomb).
MAX_PDF_OBJECTS = 5_000
# Markup a browser sniffs as HTML (it looks at the first 512 bytes or so): no PDF needs it up front.
_HTML = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed)\b", re.IGNORECASE)
# Names that mark active or embedded content (ISO 32000-1 §12.6.4.16 JavaScript, §12.6.4.5 Launch,
# §7.11.4 embedded files, §12.5.6.19 rich media). pypdf has already decoded #xx escapes in names.
_ACTIVE: dict[str, Reason] = {
    "/JS": ("含有 JavaScript 脚本", "it contains JavaScript"),
    "/JavaScript": ("含有 JavaScript 脚本", "it contains JavaScript"),
    "/Launch": ("含有启动外部程序的动作（Launch）", "it contains a Launch action"),
    "/EmbeddedFiles": ("含有嵌入文件", "it contains embedded files"),
    "/EmbeddedFile": ("含有嵌入文件", "it contains embedded files"),
    "/RichMedia": ("含有富媒体内容", "it contains rich media"),
}


def inspect_pdf(content: bytes) -> list[Reason]:
    """Refuse a PDF that pypdf cannot read, that starts with HTML, or that carries active content."""
    if _HTML.search(content[:1024]):
        return [("文件开头含有 HTML 标记，不是纯 PDF", "it starts with HTML markup, not a plain PDF")]
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        ids = _object_ids(reader)
        if len(ids) > MAX_PDF_OBJECTS:
            return [
                (
                    f"PDF 对象过多（{len(ids)} 个，上限 {MAX_PDF_OBJECTS} 个）",
                    f"the PDF has too many objects ({len(ids)}, at most {MAX_PDF_OBJECTS})",
                )
            ]
        if len(reader.pages) < 1:
            return [("PDF 没有页面", "the PDF has no pages")]
        found = sorted({_ACTIVE[name] for name in _names(reader, ids)})
    except Exception as exc:
        return [("无法解析为 PDF 文件", f"it cannot be parsed as a PDF ({type(exc).__name__})")]
    return found


def _object_ids(reader: PdfReader) -> set[tuple[int, int]]:
    ids = {(num, gen) for gen, numbers in reader.xref.items() for num in numbers}
    return ids | {(num, 0) for num in reader.xref_objStm}


def _names(reader: PdfReader, ids: set[tuple[int, int]]) -> Iterator[str]:
    """Every active-content name used as a key or a value anywhere in the document's objects."""
    roots: list[Any] = [reader.trailer]
    roots += [reader.get_object(IndirectObject(num, gen, reader)) for num, gen in sorted(ids)]
    for root in roots:
        yield from _walk(root)


def _walk(node: Any) -> Iterator[str]:
    # Iterative, and not following indirect references: each indirect object is a root of its own.
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, DictionaryObject):  # streams too: their dictionary
            for key, value in item.items():
                if key in _ACTIVE:
                    yield str(key)
                stack.append(value)
        elif isinstance(item, ArrayObject):
            stack.extend(item)
        elif isinstance(item, NameObject) and item in _ACTIVE:
            yield str(item)


def inspect_jpeg(content: bytes) -> list[Reason]:
    """Refuse bytes that are not a JPEG Pillow can decode in full, or that declare too many pixels."""
    too_large = (
        f"图像像素过多（上限 {MAX_JPEG_PIXELS} 像素）",
        f"the image has too many pixels (at most {MAX_JPEG_PIXELS})",
    )
    try:
        with Image.open(io.BytesIO(content), formats=["JPEG"]) as image:
            width, height = image.size
            if width * height > MAX_JPEG_PIXELS:
                return [(f"{too_large[0]}：{width}×{height}", f"{too_large[1]}: {width}×{height}")]
            image.verify()
        # verify() leaves the image unusable; a fresh open decodes every scan line (a truncated file fails).
        with Image.open(io.BytesIO(content), formats=["JPEG"]) as image:
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, at open, for sizes far beyond ours (its warning is an error under -W error).
        return [too_large]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return [("无法解码为 JPEG 图像", "it cannot be decoded as a JPEG image")]
    return []
