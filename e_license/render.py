"""Render a certificate's content to a one-page A4 PDF laid out like the official 2015 samples.

`render(content)` is CPU-bound (about 10–20 ms); async callers run it in an executor
(`loop.run_in_executor(pool, render, content)`), never on the event loop. The output is byte-for-byte
reproducible for the same content: reportlab's invariant mode, the issue date as the PDF date, and a
fixed drawing order, so the SM3 of a re-rendered certificate matches the signed one.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader

from gateway.errors import InputError

from .content import CertificateContent, OwnershipCertificateContent, chinese_date, unit_code_groups
from .drawing import FONT_NAME, draw_qr, ensure_font, text_width, wrap
from .numbers import CertificateKind
from .ofd import DocumentInfo, RecordingCanvas, write_ofd
from .seal import draw_seal

PAGE_WIDTH, PAGE_HEIGHT = float(A4[0]), float(A4[1])
MARGIN = 58.0
TABLE_LEFT, TABLE_RIGHT = MARGIN, PAGE_WIDTH - MARGIN
LABEL_WIDTH = 104.0
PAD_X, PAD_Y = 8.0, 7.0
MIN_ROW_HEIGHT = 30.0
MIN_REMARKS_HEIGHT = 70.0
TABLE_TOP = PAGE_HEIGHT - 150.0
FOOTER_TOP = 178.0  # the statement, the issuer, the date, the QR code and the identifier live below
VALUE_SIZES = (11.0, 10.0, 9.0, 8.0)  # shrink a crowded page before giving up
QR_SIZE = 82.0
SEAL_SIZE = 119.0  # 42 mm, the diameter of an official round seal
_INVARIANT_SEED = b"946684800.0"  # reportlab's invariant timestamp, 2000-01-01, as it seeds the /ID

INK = HexColor("#1A1A1A")
FRAME = HexColor("#9C2B23")  # the official books' seal red
LABEL_FILL = HexColor("#F6EFE4")
MUTED = HexColor("#555555")

STATEMENT = {
    CertificateKind.OWNERSHIP: (
        "根据《中华人民共和国民法典》等法律法规，为保护不动产权利人合法权益，对不动产权利人申请登记的本证所列"
        "不动产权利，经审查核实，准予登记，颁发此证。"
    ),
    CertificateKind.PROOF: (
        "根据《中华人民共和国民法典》等法律法规，对申请人申请登记的本证明所列不动产权利或登记事项，经审查核实，"
        "准予登记，颁发此证明。"
    ),
}


@dataclass(frozen=True)
class _Row:
    label: list[str]
    value: list[str]
    height: float


def render(content: CertificateContent) -> bytes:
    """The certificate as PDF bytes (one A4 page, and 附图页 when there is a plan; fonts embedded as subsets)."""
    return _draw(content)[0]


def render_pair(content: CertificateContent) -> tuple[bytes, bytes]:
    """The certificate as PDF and as OFD (GB/T 33190), drawn once: the same text at the same places."""
    pdf, canvas = _draw(content)
    info = DocumentInfo(
        doc_id=hashlib.md5(str(content.identifier).encode(), usedforsecurity=False).hexdigest(),
        title=f"{content.kind.title_zh} {content.number_text}",
        author=content.issuer_name,
        creation_date=content.issue_date.isoformat(),
        identifier=str(content.identifier),
        number=content.number_text,
    )
    return pdf, write_ofd(canvas.recorded, info, PAGE_WIDTH, PAGE_HEIGHT)


def _draw(content: CertificateContent) -> tuple[bytes, RecordingCanvas]:
    font = ensure_font()
    buffer = io.BytesIO()
    canvas = RecordingCanvas(buffer, pagesize=A4, invariant=True, initialFontName=font, pageCompression=1)
    _reseed_document_id(canvas)
    _set_metadata(canvas, content)
    _draw_frame(canvas)
    _draw_heading(canvas, content)
    table_bottom = _draw_table(canvas, content)
    _draw_footer(canvas, content, table_bottom)
    canvas.showPage()
    if content.plan is not None:
        _draw_plan_page(canvas, content, content.plan)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue(), canvas


def _reseed_document_id(canvas: RecordingCanvas) -> None:
    """Seed the /ID digest as invariant mode does by default, whatever SOURCE_DATE_EPOCH says.

    reportlab seeds it with that environment variable when set, so the same content would hash
    differently on a build machine that exports it.
    """
    signature = hashlib.md5(b"a reportlab document", usedforsecurity=False)
    signature.update(_INVARIANT_SEED)
    canvas._doc.signature = signature


def _set_metadata(canvas: RecordingCanvas, content: CertificateContent) -> None:
    canvas.setTitle(f"{content.kind.title_zh} {content.number_text}")
    # The identifier in /Subject is plain ASCII inside the signed bytes: verification binds the embedded
    # signature blob to it (signing.py).
    canvas.setSubject(str(content.identifier))
    canvas.setKeywords(content.number_text)
    canvas.setAuthor(content.issuer_name)
    canvas.setCreator("re-gateway e_license")
    day = content.issue_date
    canvas.setDateFormatter(lambda *_: f"D:{day:%Y%m%d}000000+08'00'")


def _draw_frame(canvas: RecordingCanvas) -> None:
    canvas.setStrokeColor(FRAME)
    canvas.setLineWidth(2.2)
    canvas.rect(26, 26, PAGE_WIDTH - 52, PAGE_HEIGHT - 52, stroke=1, fill=0)
    canvas.setLineWidth(0.6)
    canvas.rect(32, 32, PAGE_WIDTH - 64, PAGE_HEIGHT - 64, stroke=1, fill=0)


def _draw_heading(canvas: RecordingCanvas, content: CertificateContent) -> None:
    title = content.kind.title_zh
    size = 24.0
    spacing = 4.0 if len(title) > 8 else 12.0
    width = text_width(title, size) + spacing * (len(title) - 1)
    canvas.saveState()  # character spacing and render mode are graphics state: keep them to the title
    # The spaced-out letters would extract as "不 动 产 登 记 证 明" (a gap wider than a word space);
    # /ActualText (ISO 32000-1 §14.9.4) gives readers, search and copy the title as one word.
    canvas._code.append(f"/Span <</ActualText <{_utf16_hex(title)}>>> BDC")
    heading = canvas.beginText((PAGE_WIDTH - width) / 2, PAGE_HEIGHT - 92)
    heading.setFont(FONT_NAME, size)
    heading.setCharSpace(spacing)
    heading.setTextRenderMode(2)  # fill + thin stroke: the CJK font has no bold face
    canvas.setLineWidth(0.5)
    canvas.setStrokeColor(INK)
    canvas.setFillColor(INK)
    heading.textOut(title)
    canvas.drawText(heading)
    canvas.note_text((PAGE_WIDTH - width) / 2, PAGE_HEIGHT - 92, title, size, spacing)
    canvas._code.append("EMC")
    canvas.restoreState()
    canvas.setFont(FONT_NAME, 13)
    canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - 126, content.number_text)


def _utf16_hex(text: str) -> str:
    return "FEFF" + text.encode("utf-16-be").hex().upper()


def _layout_rows(content: CertificateContent, size: float) -> list[_Row]:
    leading = size * 1.45
    value_width = TABLE_RIGHT - TABLE_LEFT - LABEL_WIDTH - 2 * PAD_X
    rows = []
    for label, value in content.rows():
        label_lines = wrap(label, size, LABEL_WIDTH - 2 * PAD_X)
        value_lines = wrap(value, size, value_width) if value else [""]
        lines = max(len(label_lines), len(value_lines))
        min_height = MIN_ROW_HEIGHT * size / VALUE_SIZES[0]  # a crowded page tightens its rows too
        rows.append(_Row(label_lines, value_lines, max(min_height, lines * leading + 2 * PAD_Y)))
    return rows


def _draw_table(canvas: RecordingCanvas, content: CertificateContent) -> float:
    """Draw the ruled table with 附记 as its last, stretching row; return the table's bottom edge."""
    available = TABLE_TOP - FOOTER_TOP
    value_width = TABLE_RIGHT - TABLE_LEFT - LABEL_WIDTH - 2 * PAD_X
    for size in VALUE_SIZES:
        rows = _layout_rows(content, size)
        remarks = wrap("\n".join(content.remarks), size, value_width) if content.remarks else []
        used = sum(row.height for row in rows)
        needed_remarks = max(MIN_REMARKS_HEIGHT, len(remarks) * size * 1.45 + 2 * PAD_Y)
        if used + needed_remarks <= available:
            break
    else:
        raise InputError(
            "the certificate's content does not fit on one page; shorten 权利其他状况, 其他 or 附记",
            "证书内容过长，一页容纳不下：请精简权利其他状况、其他或附记",
        )
    rows.append(_Row(["附记"], remarks, available - used))
    leading = size * 1.45

    bottom = TABLE_TOP - available
    canvas.setFillColor(LABEL_FILL)
    canvas.rect(TABLE_LEFT, bottom, LABEL_WIDTH, available, stroke=0, fill=1)
    grid = canvas.beginPath()
    grid.rect(TABLE_LEFT, bottom, TABLE_RIGHT - TABLE_LEFT, available)
    grid.moveTo(TABLE_LEFT + LABEL_WIDTH, bottom)
    grid.lineTo(TABLE_LEFT + LABEL_WIDTH, TABLE_TOP)
    y = TABLE_TOP
    for row in rows[:-1]:
        y -= row.height
        grid.moveTo(TABLE_LEFT, y)
        grid.lineTo(TABLE_RIGHT, y)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.8)
    canvas.drawPath(grid, stroke=1, fill=0)

    canvas.setFillColor(INK)
    canvas.setFont(FONT_NAME, size)
    top = TABLE_TOP
    for index, row in enumerate(rows):
        is_remarks = index == len(rows) - 1
        label_top = top - (row.height - len(row.label) * leading) / 2
        for i, line in enumerate(row.label):
            baseline = label_top - (i + 0.78) * leading
            canvas.drawCentredString(TABLE_LEFT + LABEL_WIDTH / 2, baseline, line)
        # Values sit centred in their row, except 附记, which reads from the top of its box like the form.
        block = len(row.value) * leading
        value_top = top - PAD_Y if is_remarks else top - (row.height - block) / 2
        for i, line in enumerate(row.value):
            canvas.drawString(TABLE_LEFT + LABEL_WIDTH + PAD_X, value_top - (i + 0.78) * leading, line)
        top -= row.height
    return bottom


def _draw_footer(canvas: RecordingCanvas, content: CertificateContent, table_bottom: float) -> None:
    size = 10.0
    y = table_bottom - 20
    canvas.setFillColor(INK)
    canvas.setFont(FONT_NAME, size)
    for line in wrap(STATEMENT[content.kind], size, TABLE_RIGHT - TABLE_LEFT - 2 * size):
        canvas.drawString(TABLE_LEFT + 2 * size, y, line)  # indented like the first line of a paragraph
        y -= size * 1.5

    canvas.setFont(FONT_NAME, 12)
    right = TABLE_RIGHT - 6
    issuing = f"登记机构（章）：{content.issuer_name}"
    canvas.drawRightString(right, 104, issuing)
    canvas.drawRightString(right, 82, chinese_date(content.issue_date))
    if content.seal is not None:
        # Stamped over the registry's name and the date, as the seal is pressed on the paper form.
        name_centre = right - text_width(content.issuer_name, 12) / 2
        box = draw_seal(canvas, content.seal, name_centre, 98, SEAL_SIZE)
        canvas.note_image(content.seal, *box)

    qr_x, qr_y = TABLE_LEFT, 44.0
    draw_qr(canvas, content.verification_url, qr_x, qr_y, QR_SIZE)
    # Beside the QR code, bottom-up, wrapped so that a long URL stays inside the frame.
    small = 7.5
    x = qr_x + QR_SIZE + 8
    # Left of the seal, which covers the issuing line's right part.
    seal_left = TABLE_RIGHT - 6 - text_width(content.issuer_name, 12) / 2 - SEAL_SIZE / 2
    limit = (TABLE_RIGHT if content.seal is None else seal_left - 6) - x
    lines = [
        "扫码或上传文件核验本证照的状态与签名",
        *wrap(f"证照标识：{content.identifier}", small, limit),
        *wrap(f"核验地址：{content.verification_url}", small, limit),
    ]
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT_NAME, small)
    for i, line in enumerate(reversed(lines)):
        canvas.drawString(x, qr_y + i * small * 1.5, line)


def _draw_plan_page(canvas: RecordingCanvas, content: CertificateContent, plan: bytes) -> None:
    """附图页: the unit's plan (分户图/宗地图), scaled into the frame under the number and the unit code."""
    _draw_frame(canvas)
    canvas.setFillColor(INK)
    canvas.setFont(FONT_NAME, 20)
    canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - 86, "附图页")
    canvas.setFont(FONT_NAME, 11)
    canvas.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - 112, content.number_text)
    if isinstance(content, OwnershipCertificateContent):
        canvas.drawCentredString(
            PAGE_WIDTH / 2, PAGE_HEIGHT - 130, f"不动产单元号：{unit_code_groups(content.unit_code)}"
        )
    image = ImageReader(io.BytesIO(plan))
    pixels_w, pixels_h = image.getSize()
    box_w, box_h = TABLE_RIGHT - TABLE_LEFT, PAGE_HEIGHT - 150 - 70
    scale = min(box_w / pixels_w, box_h / pixels_h)
    width, height = pixels_w * scale, pixels_h * scale
    x, y = (PAGE_WIDTH - width) / 2, 70 + (box_h - height) / 2
    canvas.drawImage(image, x, y, width, height)
    canvas.note_image(plan, x, y, width, height)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.6)
    canvas.rect(x, y, width, height, stroke=1, fill=0)
