"""The registry's seal from GW_REGISTRY__SEAL_IMAGE (PNG or SVG), the embedded mode's fake sample, refusals."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pypdf
import pytest

from e_license.render import render
from e_license.samples import sample_proof
from gateway.bootstrap import registry_seal_image
from gateway.errors import ConfigError
from gateway.settings import RegistrySettings, Settings

SVG_SEAL = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">
<circle cx="100" cy="100" r="92" fill="none" stroke="#c81e1e" stroke-width="8"/>
<text x="100" y="110" font-family="WenQuanYiZenHei" font-size="30" text-anchor="middle" fill="#c81e1e">测试章</text>
</svg>""".encode()


def test_the_embedded_mode_makes_an_obviously_fake_sample_seal(tmp_path: Path) -> None:
    seal = registry_seal_image(Settings(data_dir=tmp_path))
    assert seal is not None and seal.startswith(b"\x89PNG")
    assert (tmp_path / "registry" / "sample-seal.png").read_bytes() == seal
    # Outside the embedded mode nothing is invented: no seal unless one is configured.
    assert (
        registry_seal_image(Settings(data_dir=tmp_path / "x", redis_url="redis://127.0.0.1:6379/13")) is None
    )


def test_an_svg_seal_is_drawn_as_vectors_in_the_signed_page(tmp_path: Path) -> None:
    path = tmp_path / "seal.svg"
    path.write_bytes(SVG_SEAL)
    seal = registry_seal_image(Settings(data_dir=tmp_path, registry=RegistrySettings(seal_image=path)))
    assert seal == SVG_SEAL
    pdf = render(sample_proof().model_copy(update={"seal": seal}))
    assert not pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images, "vectors, not an image"
    file = tmp_path / "c.pdf"
    file.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(file), "-"], capture_output=True, text=True, check=True).stdout
    assert "测试章" in text


@pytest.mark.parametrize("content", [b"not an image", b"<svg"])
def test_a_seal_that_cannot_be_drawn_is_refused_at_start_up(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "seal.png"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="seal"):
        registry_seal_image(Settings(data_dir=tmp_path, registry=RegistrySettings(seal_image=path)))
    with pytest.raises(ConfigError, match="seal"):
        registry_seal_image(
            Settings(data_dir=tmp_path, registry=RegistrySettings(seal_image=tmp_path / "missing.png"))
        )
