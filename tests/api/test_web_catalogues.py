"""Every string of the pages has its Chinese, and the committed catalogues match the templates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from gateway.web.i18n import LOCALE_DIR, load_catalogues

ROOT = Path(__file__).resolve().parents[2]


def ids(path: Path, locale: str | None = None) -> dict[str, str]:
    with path.open("rb") as source:
        return {str(m.id): str(m.string) for m in read_po(source, locale=locale) if m.id}


def test_every_message_has_its_chinese(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_",
         "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    wanted = set(ids(fresh))
    chinese = ids(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po", "zh_CN")
    assert wanted - set(chinese) == set(), "run `make messages` and translate the new strings"
    assert [m for m in wanted if not chinese[m]] == []
    assert set(ids(LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po", "en")) >= wanted


def test_the_catalogues_load_from_a_clean_checkout() -> None:
    catalogues = load_catalogues()
    assert catalogues["zh_CN"].gettext("Work queue") == "待办"
    assert catalogues["en"].gettext("Work queue") == "Work queue"


def test_the_pages_name_each_material_as_its_kind_does() -> None:
    """A label shares its message id with any other string of the same English (the loan notice's
    "Loan contract" number once made the loan contract's scan read 借款合同编号 on the checklist)."""
    from gateway.domain.materials import MaterialKind
    from gateway.web.labels import LABELS

    chinese = load_catalogues()["zh_CN"]
    shown = {kind: chinese.gettext(LABELS["material"][kind.value]) for kind in MaterialKind}
    assert shown == {kind: kind.label_zh for kind in MaterialKind}
