"""The registry's seal on a certificate: a PNG or SVG drawn over 登记机构（章）, and the demo's fake seal."""

from __future__ import annotations

import hashlib
import io
import math
import threading
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageStat
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Drawing
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from gateway.errors import ConfigError

from .drawing import FONT_CANDIDATES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SAMPLE_SEAL_NAME = "sample-seal.png"
MAX_SEAL_PIXELS = 256
_lock = threading.Lock()


def check_seal(data: bytes, source: str = "the seal image") -> bytes:
    """The seal's bytes if they are a PNG or an SVG that can be drawn; ConfigError otherwise (at start-up)."""
    try:
        _art(hashlib.sha256(data).hexdigest(), data)
    except Exception as exc:  # PIL, lxml and svglib each raise their own: all mean "not a usable seal"
        raise ConfigError(
            f"{source} is not a PNG or SVG image that can be drawn ({exc})",
            f"登记机构印章图片无法使用（须为PNG或SVG）：{source}",
        ) from exc
    return data


def load_seal(path: Path) -> bytes:
    try:
        return check_seal(path.read_bytes(), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read the seal image {path}: {exc}", f"无法读取印章图片 {path}") from exc


def draw_seal(
    canvas: Canvas, data: bytes, cx: float, cy: float, size: float
) -> tuple[float, float, float, float]:
    """Draw the seal centred on (cx, cy), `size` points across (its longer side); returns x, y, w, h."""
    art = _art(hashlib.sha256(data).hexdigest(), data)
    if isinstance(art, Drawing):
        scale = size / max(art.width, art.height)
        width, height = art.width * scale, art.height * scale
        canvas.saveState()
        canvas.translate(cx - width / 2, cy - height / 2)
        canvas.scale(scale, scale)
        renderPDF.draw(art, canvas, 0, 0)
        canvas.restoreState()
        return cx - width / 2, cy - height / 2, width, height
    pixels_w, pixels_h = art.getSize()
    scale = size / max(pixels_w, pixels_h)
    width, height = pixels_w * scale, pixels_h * scale
    # mask="auto": the PNG's alpha becomes a soft mask, so the text under the seal shows through like ink.
    canvas.drawImage(art, cx - width / 2, cy - height / 2, width, height, mask="auto")
    return cx - width / 2, cy - height / 2, width, height


@lru_cache(maxsize=8)
def _art(_digest: str, data: bytes) -> ImageReader | Drawing:
    """Decoded once per process and seal (the digest keys the cache; the bytes come along for the miss)."""
    with _lock:
        if data.startswith(PNG_MAGIC):
            image = Image.open(io.BytesIO(data))
            image.load()
            if max(image.size) > MAX_SEAL_PIXELS:
                # reportlab re-compresses the pixels into every certificate: 256 px across 42 mm is
                # 155 dpi, and a large scan would cost more than the rest of the page.
                image.thumbnail((MAX_SEAL_PIXELS, MAX_SEAL_PIXELS), Image.Resampling.LANCZOS)
            return ImageReader(_one_ink(image))
        from svglib.svglib import svg2rlg  # imported on use: only registries with an SVG seal need it

        drawing = svg2rlg(io.BytesIO(data))
        if drawing is None or drawing.width <= 0 or drawing.height <= 0:
            raise ValueError("not an SVG drawing with a size")
        return drawing


def _one_ink(image: Image.Image) -> Image.Image:
    """A one-colour seal (they are: red ink) as that colour everywhere, its shape in the alpha channel.

    reportlab compresses the colour pixels into every certificate; a flat colour compresses almost for
    free, and the soft mask keeps every edge. A seal of several colours is kept as it is.
    """
    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    inked = alpha.point(lambda a: 255 if a > 64 else 0)
    if inked.getbbox() is None:
        return rgba
    stat = ImageStat.Stat(rgba.convert("RGB"), inked)
    if max(high - low for low, high in stat.extrema) > 80:
        return rgba
    flat = Image.new("RGBA", rgba.size, (*(round(v) for v in stat.mean), 0))
    flat.putalpha(alpha)
    return flat


def sample_seal_png(name: str, size: int = MAX_SEAL_PIXELS) -> bytes:
    """An obviously fake seal for demos and tests: a red ring, a star, 样章 SAMPLE and "not valid"."""
    red = (200, 30, 30, 215)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    ring = size // 36
    draw.ellipse((ring, ring, size - ring, size - ring), outline=red, width=ring)
    font_path = next((p for p in FONT_CANDIDATES if p.exists()), None)

    def font(points: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if font_path is None:
            return ImageFont.load_default(points)
        return ImageFont.truetype(str(font_path), points)

    centre = size / 2
    # The registry's name around the upper arc, one character at a time, like a real seal's legend.
    legend = name[:16]
    radius = size * 0.36
    span = math.radians(min(240, 18 * len(legend)))
    for i, ch in enumerate(legend):
        angle = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(legend)
        glyph = Image.new("RGBA", (size // 8, size // 8), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size / 16, size / 16), ch, font=font(size // 11), fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
        x = centre + radius * math.cos(angle) - glyph.width / 2
        y = centre + radius * math.sin(angle) - glyph.height / 2
        image.alpha_composite(glyph, (int(x), int(y)))
    star = [
        (
            centre + (size * (0.11 if k % 2 == 0 else 0.045)) * math.cos(-math.pi / 2 + k * math.pi / 5),
            centre
            - size * 0.03
            + (size * (0.11 if k % 2 == 0 else 0.045)) * math.sin(-math.pi / 2 + k * math.pi / 5),
        )
        for k in range(10)
    ]
    draw.polygon(star, fill=red)
    draw.text((centre, centre + size * 0.17), "样章 SAMPLE", font=font(size // 10), fill=red, anchor="mm")
    draw.text(
        (centre, centre + size * 0.29), "演示用 无效 NOT VALID", font=font(size // 22), fill=red, anchor="mm"
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
