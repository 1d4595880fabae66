"""The OFD's embedded font: the WQY font cut down to the glyphs one certificate uses (fontTools).

A whole CJK font is ~10 MB; a certificate uses ~200 glyphs (~45 KB). The font is parsed once per process
and each subset copies the stored glyphs as they are: compiling outlines again (fontTools' subsetter)
cost ~300 ms a certificate, copying ~2 ms.
"""

from __future__ import annotations

import io
import threading

from fontTools.fontBuilder import FontBuilder
from fontTools.ttLib import TTFont, newTable

from .drawing import FONT_CANDIDATES

FONT_FAMILY = "WenQuanYi Zen Hei"


class _FontSource:
    """The CJK font parsed once per process; its glyphs are copied into each certificate's subset."""

    def __init__(self) -> None:
        path = next(p for p in FONT_CANDIDATES if p.exists())
        self.font = TTFont(str(path), fontNumber=0)
        self.cmap = self.font.getBestCmap()
        self.glyf = self.font["glyf"]
        self.hmtx = self.font["hmtx"]
        self.lock = threading.Lock()


_source: _FontSource | None = None
_source_lock = threading.Lock()


def _font_source() -> _FontSource:
    global _source
    if _source is None:
        with _source_lock:
            if _source is None:
                _source = _FontSource()
    return _source


def subset_font(text: str) -> bytes:
    """A TrueType font holding only the glyphs of `text` (plus .notdef), with a Unicode cmap."""
    source = _font_source()
    chars = sorted({ord(ch) for ch in text if ord(ch) in source.cmap})
    names = list(dict.fromkeys([".notdef", *(source.cmap[c] for c in chars)]))
    with source.lock:  # fontTools expands glyphs lazily: one thread at a time
        glyphs = {}
        for name in list(names):
            # The raw glyph, copied as the font stores it: compiling outlines again costs 10x the rest.
            glyph = source.glyf.glyphs[name]
            data = getattr(glyph, "data", b"")
            if len(data) >= 2 and int.from_bytes(data[:2], "big", signed=True) < 0:  # composite
                for component in source.glyf[name].getComponentNames(source.glyf):
                    if component not in names:
                        names.append(component)
                        glyphs[component] = source.glyf.glyphs[component]
            glyphs[name] = glyph
        metrics = {name: source.hmtx[name] for name in names}
        builder = FontBuilder(source.font["head"].unitsPerEm, isTTF=True)
        builder.font.recalcBBoxes = False  # the glyphs' own boxes, as stored
        builder.setupGlyphOrder(names)
        builder.setupCharacterMap({c: source.cmap[c] for c in chars})
        # setupGlyf would expand every glyph to check for cubic curves (a TrueType font has none).
        builder.font["loca"] = newTable("loca")
        builder.font["glyf"] = newTable("glyf")
        builder.font["glyf"].glyphs = glyphs
        builder.font["glyf"].glyphOrder = names
        builder.setupHorizontalMetrics(metrics)
        hhea = source.font["hhea"]
        builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent)
        builder.setupNameTable({"familyName": FONT_FAMILY, "styleName": "Regular"})
        builder.setupOS2()
        builder.setupPost(keepGlyphNames=False)  # post format 3: readers map text through the cmap
        out = io.BytesIO()
        builder.save(out)
    return out.getvalue()
