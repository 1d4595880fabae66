"""Drawing primitives for certificates: the embedded CJK font, line wrapping, and a QR code as one path."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import segno
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from gateway.errors import ConfigError

FONT_NAME = "WenQuanYiZenHei"
# Debian's fonts-wqy-zenhei; reportlab embeds only the glyphs a page uses (a subset), so the page renders
# on any machine and its text extracts as Chinese.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
_font_lock = threading.Lock()
_font_registered = False
QR_MASK = 0
_NO_LINE_START = frozenset("，。、；：？！）》」』】％%,.;:?!)")
# A certificate number (粤（2020）东莞市不动产权第0123456号) is read and copied as one thing: never broken.
_KEEP_WHOLE = re.compile(r"[\u4e00-\u9fa5][（(]\d{4}[）)][\u4e00-\u9fa5]{1,12}?不动产(?:权|证明)第\d+号")


def ensure_font() -> str:
    """Register the CJK font once per process, on first use (parsing the .ttc takes ~90 ms)."""
    global _font_registered
    if _font_registered:
        return FONT_NAME
    with _font_lock:
        if not _font_registered:
            path = next((p for p in FONT_CANDIDATES if p.exists()), None)
            if path is None:
                raise ConfigError(
                    "no CJK font for certificates: install fonts-wqy-zenhei "
                    f"(looked for {', '.join(str(p) for p in FONT_CANDIDATES)})",
                    "缺少证书所需中文字体：请安装 fonts-wqy-zenhei",
                )
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            _font_registered = True
    return FONT_NAME


def text_width(text: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, FONT_NAME, size))


def wrap(text: str, size: float, width: float) -> list[str]:
    """Break text into lines no wider than `width`; explicit newlines start new lines.

    Chinese breaks between any two characters; a run of Latin letters or digits (a unit code, an amount)
    and a certificate number are kept whole when they fit on a line, so numbers are never split.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            # Closing punctuation never starts a line (禁则); it may overhang the margin a little.
            if text_width(line + token, size) <= width or (line and token in _NO_LINE_START):
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while len(line) > 1 and text_width(line, size) > width:  # a token longer than a whole line
                cut = _longest_prefix(line, size, width)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def _tokens(paragraph: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(paragraph):
        whole = _KEEP_WHOLE.match(paragraph, i)
        if whole:
            tokens.append(whole.group())
            i = whole.end()
            continue
        ch = paragraph[i]
        i += 1
        if (
            tokens
            and ch.isascii()
            and ch.isalnum()
            and tokens[-1][-1:].isascii()
            and tokens[-1][-1:].isalnum()
        ):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def _longest_prefix(line: str, size: float, width: float) -> int:
    cut = len(line) - 1
    while cut > 1 and text_width(line[:cut], size) > width:
        cut -= 1
    return cut


def draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Draw a QR code (error level M) whose lower-left corner is (x, y), `size` points wide.

    The dark modules become one path of rectangles, one per horizontal run: about 30x cheaper than
    reportlab's QrCodeWidget (baselines.md), which is most of a page's rendering time.
    """
    # A fixed mask: every mask is valid (ISO/IEC 18004 §7.8) and decoders read them all, while scoring the
    # eight candidates is 80 % of segno's time (6.7 ms → 1.2 ms per code here).
    qr = segno.make(payload, error="m", micro=False, boost_error=False, mask=QR_MASK)
    matrix = qr.matrix
    module = size / len(matrix)
    # Rows overlap by a hair so anti-aliasing draws no seams between them (non-zero fill: no gaps).
    overlap = module * 0.02
    top = y + size
    path = canvas.beginPath()
    for row_index, row in enumerate(matrix):
        row_y = top - (row_index + 1) * module
        col, width = 0, len(row)
        while col < width:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < width and row[col]:
                col += 1
            path.rect(x + start * module, row_y - overlap, (col - start) * module, module + overlap)
    canvas.drawPath(path, stroke=0, fill=1)
