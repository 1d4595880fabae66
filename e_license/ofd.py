"""The certificate as OFD (GB/T 33190-2016, the file format of GB/T 36905 电子证照), beside the PDF.

No maintained Python OFD *writer* was found (easyofd converts images and PDFs, ofdreader reads and copies
pages; ofdrw is Java, ofd-rs Rust and image-only), so this is a small one on lxml. The page is drawn once:
`RecordingCanvas` notes every string, path and image reportlab draws, and `write_ofd` lays the same
objects out in an OFD package, so both files show the same text at the same places:

    OFD.xml                   DocBody: DocInfo (title, author, issue date, identifier and number as
                              CustomData) and DocRoot → Doc_0/Document.xml
    Doc_0/Document.xml        CommonData (page area in mm, PublicRes, DocumentRes) and Pages
    Doc_0/PublicRes.xml       the font, embedded as a subset of the glyphs the certificate uses
    Doc_0/DocumentRes.xml     the images (seal, plan)
    Doc_0/Res/…               the font file and the images
    Doc_0/Pages/Page_N/Content.xml   TextObject/TextCode (with DeltaX from the font's advances),
                              PathObject (frame, table rules, QR code), ImageObject

Coordinates: OFD uses millimetres from the top-left corner; reportlab points from the bottom-left.
Paths keep reportlab's coordinates and carry a CTM that scales and flips them; text is placed directly.
The package is written deterministically (fixed zip timestamps, sorted attributes), so the same content
gives the same bytes, and its SM3 is what the registry signs.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject

from .drawing import FONT_NAME, text_width
from .ofd_font import FONT_FAMILY, subset_font

OFD_NS = "http://www.ofdspec.org/2016"
_O = "{" + OFD_NS + "}"
MM_PER_PT = 25.4 / 72
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)
FONT_FILE = "font.ttf"


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    size: float
    text: str
    fill: tuple[int, int, int]
    char_space: float = 0.0


@dataclass(frozen=True)
class _Path:
    code: tuple[str, ...]
    stroke: tuple[int, int, int] | None
    fill: tuple[int, int, int] | None
    line_width: float


@dataclass(frozen=True)
class _Image:
    data: bytes
    suffix: str  # png / jpg
    x: float
    y: float
    width: float
    height: float


@dataclass
class _Page:
    items: list[_Text | _Path | _Image] = field(default_factory=list)


def _rgb(color: Any) -> tuple[int, int, int]:
    if isinstance(color, Color):
        return (round(color.red * 255), round(color.green * 255), round(color.blue * 255))
    return (0, 0, 0)


class RecordingCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
    """A reportlab canvas that also notes what it draws, page by page, for the OFD."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorded: list[_Page] = [_Page()]

    def _note(self, item: _Text | _Path | _Image) -> None:
        self.recorded[-1].items.append(item)

    def note_text(
        self, x: float, y: float, text: str, size: float | None = None, char_space: float = 0.0
    ) -> None:
        size = self._fontsize if size is None else size
        self._note(_Text(x, y, size, text, _rgb(self._fillColorObj), char_space))

    def note_image(self, data: bytes, x: float, y: float, width: float, height: float) -> None:
        suffix = "png" if data.startswith(b"\x89PNG") else "jpg" if data.startswith(b"\xff\xd8") else ""
        if suffix:  # an SVG seal is drawn as vectors in the PDF only
            self._note(_Image(data, suffix, x, y, width, height))

    def drawString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        self.note_text(x, y, text)
        super().drawString(x, y, text, *args, **kwargs)

    def drawCentredString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        self.note_text(x - text_width(text, self._fontsize) / 2, y, text)
        super().drawCentredString(x, y, text, *args, **kwargs)

    def drawRightString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        self.note_text(x - text_width(text, self._fontsize), y, text)
        super().drawRightString(x, y, text, *args, **kwargs)

    def rect(self, x: float, y: float, width: float, height: float, stroke: int = 1, fill: int = 0) -> None:
        self._note_path((f"{x} {y} {width} {height} re",), stroke, fill)
        super().rect(x, y, width, height, stroke=stroke, fill=fill)

    def drawPath(self, aPath: PDFPathObject, stroke: int = 1, fill: int = 0, **kwargs: Any) -> None:
        self._note_path(tuple(aPath._code), stroke, fill)
        super().drawPath(aPath, stroke=stroke, fill=fill, **kwargs)

    def _note_path(self, code: tuple[str, ...], stroke: int, fill: int) -> None:
        self._note(
            _Path(
                code,
                _rgb(self._strokeColorObj) if stroke else None,
                _rgb(self._fillColorObj) if fill else None,
                float(self._lineWidth),
            )
        )

    def showPage(self) -> None:
        super().showPage()
        self.recorded.append(_Page())


@dataclass(frozen=True)
class DocumentInfo:
    """What OFD.xml's DocInfo says: the verifier binds the signature to the identifier and number here."""

    doc_id: str  # 32 hex: derived from the identifier, so the package is reproducible
    title: str
    author: str
    creation_date: str  # YYYY-MM-DD, the issue date (the registry's day)
    identifier: str
    number: str


def write_ofd(pages: list[_Page], info: DocumentInfo, page_width: float, page_height: float) -> bytes:
    """The OFD package of the recorded pages (empty trailing pages dropped)."""
    pages = [page for page in pages if page.items]
    texts = "".join(item.text for page in pages for item in page.items if isinstance(item, _Text))
    ids = _Ids()
    font_id = ids.next()
    images: dict[tuple[bytes, str], int] = {}
    for page in pages:
        for item in page.items:
            if isinstance(item, _Image) and (item.data, item.suffix) not in images:
                images[(item.data, item.suffix)] = ids.next()
    files: dict[str, bytes] = {}
    page_ids = []
    for index, page in enumerate(pages):
        page_id = ids.next()
        page_ids.append(page_id)
        files[f"Doc_0/Pages/Page_{index}/Content.xml"] = _content(
            page, ids, font_id, images, (page_width, page_height)
        )
    files["OFD.xml"] = _ofd_xml(info)
    files["Doc_0/Document.xml"] = _document_xml(ids.last, page_ids, page_width, page_height)
    files["Doc_0/PublicRes.xml"] = _xml(
        _el("Res", {"BaseLoc": "Res"}, [
            _el("Fonts", {}, [
                _el("Font", {"ID": str(font_id), "FontName": FONT_FAMILY, "FamilyName": FONT_FAMILY}, [
                    _el("FontFile", {}, text=FONT_FILE)
                ])
            ])
        ])
    )  # fmt: skip
    media = [
        _el("MultiMedia", {"ID": str(i), "Type": "Image", "Format": suffix.upper()}, [
            _el("MediaFile", {}, text=f"image_{i}.{suffix}")
        ])
        for (_data, suffix), i in images.items()
    ]  # fmt: skip
    files["Doc_0/DocumentRes.xml"] = _xml(_el("Res", {"BaseLoc": "Res"}, [_el("MultiMedias", {}, media)]))
    files[f"Doc_0/Res/{FONT_FILE}"] = subset_font(texts)
    for (data, suffix), i in images.items():
        files[f"Doc_0/Res/image_{i}.{suffix}"] = data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name in ("OFD.xml", *sorted(n for n in files if n != "OFD.xml")):
            entry = zipfile.ZipInfo(name, _ZIP_DATE)
            # Images are compressed already; XML and the font deflate well even at level 1 (the fastest).
            stored = name.endswith((".png", ".jpg"))
            entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            package.writestr(entry, files[name], compresslevel=1)
    return out.getvalue()


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _el(tag: str, attrs: dict[str, str], children: list[Any] | None = None, text: str | None = None) -> Any:
    element = etree.Element(_O + tag, attrs, nsmap={"ofd": OFD_NS})
    element.extend(children or [])
    if text is not None:
        element.text = text
    return element


def _xml(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _mm(value: float) -> str:
    return f"{value * MM_PER_PT:.3f}".rstrip("0").rstrip(".")


def _ofd_xml(info: DocumentInfo) -> bytes:
    custom = [
        _el("CustomData", {"Name": "证照标识"}, text=info.identifier),
        _el("CustomData", {"Name": "证号"}, text=info.number),
    ]
    doc_info = _el("DocInfo", {}, [
        _el("DocID", {}, text=info.doc_id),
        _el("Title", {}, text=info.title),
        _el("Author", {}, text=info.author),
        _el("CreationDate", {}, text=info.creation_date),
        _el("Creator", {}, text="re-gateway e_license"),
        _el("CustomDatas", {}, custom),
    ])  # fmt: skip
    body = _el("DocBody", {}, [doc_info, _el("DocRoot", {}, text="Doc_0/Document.xml")])
    return _xml(_el("OFD", {"Version": "1.0", "DocType": "OFD"}, [body]))


def _document_xml(max_id: int, page_ids: list[int], width: float, height: float) -> bytes:
    common = _el("CommonData", {}, [
        _el("MaxUnitID", {}, text=str(max_id)),
        _el("PageArea", {}, [_el("PhysicalBox", {}, text=f"0 0 {_mm(width)} {_mm(height)}")]),
        _el("PublicRes", {}, text="PublicRes.xml"),
        _el("DocumentRes", {}, text="DocumentRes.xml"),
    ])  # fmt: skip
    pages = _el("Pages", {}, [
        _el("Page", {"ID": str(page_id), "BaseLoc": f"Pages/Page_{i}/Content.xml"})
        for i, page_id in enumerate(page_ids)
    ])  # fmt: skip
    return _xml(_el("Document", {}, [common, pages]))


def _content(
    page: _Page,
    ids: _Ids,
    font_id: int,
    images: dict[tuple[bytes, str], int],
    size: tuple[float, float],
) -> bytes:
    """A page's Content.xml. Written as text: a page has a few hundred objects, and building them as lxml
    elements took a third of the OFD's time; every value is a number or passes through `escape`."""
    width, height = size
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content><ofd:Layer ID="{ids.next()}">',
    ]
    page_box = f"0 0 {_mm(width)} {_mm(height)}"
    # Path coordinates stay reportlab's points: this CTM scales them to mm and flips the y axis.
    flip = f"{MM_PER_PT:.6f} 0 0 {-MM_PER_PT:.6f} 0 {height * MM_PER_PT:.6f}"
    for item in page.items:
        if isinstance(item, _Text):
            if not item.text:
                continue
            scale = item.size * MM_PER_PT
            space = item.char_space * MM_PER_PT
            advances = [_advance(ch) * scale + space for ch in item.text]
            extent = sum(advances)
            top = (height - item.y - item.size) * MM_PER_PT
            delta = " ".join(f"{a:.3f}" for a in advances[:-1])
            out.append(
                f'<ofd:TextObject ID="{ids.next()}" Boundary="{item.x * MM_PER_PT:.3f} {top:.3f} '
                f'{extent + MM_PER_PT:.3f} {scale * 1.3:.3f}" Font="{font_id}" Size="{scale:.3f}">'
                f"{_color_xml('FillColor', item.fill)}"
                f'<ofd:TextCode X="0" Y="{scale:.3f}"{f" DeltaX={chr(34)}{delta}{chr(34)}" if delta else ""}>'
                f"{escape(item.text)}</ofd:TextCode></ofd:TextObject>"
            )
        elif isinstance(item, _Path):
            out.append(
                f'<ofd:PathObject ID="{ids.next()}" Boundary="{page_box}" CTM="{flip}" '
                f'LineWidth="{item.line_width:.2f}" Stroke="{"true" if item.stroke else "false"}" '
                f'Fill="{"true" if item.fill else "false"}">'
            )
            if item.stroke:
                out.append(_color_xml("StrokeColor", item.stroke))
            if item.fill:
                out.append(_color_xml("FillColor", item.fill))
            out.append(
                f"<ofd:AbbreviatedData>{_abbreviated(item.code)}</ofd:AbbreviatedData></ofd:PathObject>"
            )
        else:
            top = height - item.y - item.height
            out.append(
                f'<ofd:ImageObject ID="{ids.next()}" '
                f'Boundary="{_mm(item.x)} {_mm(top)} {_mm(item.width)} {_mm(item.height)}" '
                f'CTM="{_mm(item.width)} 0 0 {_mm(item.height)} 0 0" '
                f'ResourceID="{images[(item.data, item.suffix)]}"/>'
            )
    out.append("</ofd:Layer></ofd:Content></ofd:Page>")
    return "".join(out).encode()


def _color_xml(tag: str, rgb: tuple[int, int, int]) -> str:
    return f'<ofd:{tag} Value="{rgb[0]} {rgb[1]} {rgb[2]}"/>'


_ADVANCES: dict[str, float] = {}


def _advance(ch: str) -> float:
    """A character's advance at size 1 (the font's metrics; cached: a page asks for ~700 of them)."""
    width = _ADVANCES.get(ch)
    if width is None:
        width = _ADVANCES[ch] = text_width(ch, 1.0)
    return width


def _abbreviated(code: tuple[str, ...]) -> str:
    """reportlab path operators → OFD AbbreviatedData (GB/T 33190 §9.3.2): M, L, B, C."""
    out: list[str] = []
    rect = "M %.2f %.2f L %.2f %.2f L %.2f %.2f L %.2f %.2f C"
    for op in code:
        if op.endswith(" re"):  # most of a QR code: one rectangle per run of dark modules
            x, y, w, h = map(float, op[:-3].split())
            out.append(rect % (x, y, x + w, y, x + w, y + h, x, y + h))
            continue
        parts = op.split()
        if not parts:
            continue
        name, args = parts[-1], parts[:-1]
        if name == "re":  # (reportlab writes "re" last; kept for any other spacing)
            x, y, w, h = map(float, args)
            out.append(rect % (x, y, x + w, y, x + w, y + h, x, y + h))
        elif name == "m":
            out.append(f"M {args[0]} {args[1]}")
        elif name == "l":
            out.append(f"L {args[0]} {args[1]}")
        elif name == "c":
            out.append("B " + " ".join(args))
        elif name == "h":
            out.append("C")
    return " ".join(out)


__all__ = ["FONT_NAME", "OFD_NS", "DocumentInfo", "RecordingCanvas", "subset_font", "write_ofd"]
