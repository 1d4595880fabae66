#!/usr/bin/env python3
"""`make messages`: extract the page strings and bring both catalogues up to date (Babel).

New message ids reach gateway/web/locale/{zh_CN,en}/LC_MESSAGES/messages.po untranslated; a test fails
until each has its Chinese (English needs none: the ids are English).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "gateway" / "web" / "locale"
POT = LOCALE / "messages.pot"
PYBABEL = [sys.executable, "-m", "babel.messages.frontend"]


def main() -> int:
    subprocess.run(
        [*PYBABEL, "extract", "-F", "babel.cfg", "-k", "N_", "--no-location", "--sort-output",
         "--project=re-gateway", "-o", str(POT), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    for locale in ("zh_CN", "en"):
        po = LOCALE / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        subprocess.run(
            [*PYBABEL, action, "-i", str(POT), "-d", str(LOCALE), "-l", locale, "--no-wrap"]
            + (["--no-fuzzy-matching", "--ignore-obsolete"] if action == "update" else []),
            cwd=ROOT, check=True,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
