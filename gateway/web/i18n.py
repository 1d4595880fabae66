"""gettext catalogues through Babel: zh_CN (the default) and en, read from the committed .po files.

The .po files are compiled in memory at start-up (Babel's own reader and writer), so a clean checkout
needs no build step and no .mo file can drift from its source. Message ids are English; the page a
person sees is Chinese unless they choose English.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = ["DEFAULT_LOCALE", "LOCALES", "gettext", "load_catalogues", "ngettext", "translations"]

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

# The request's catalogue; set by the page middleware, read by the template's gettext calls.
_UNTRANSLATED = NullTranslations()
translations: ContextVar[NullTranslations] = ContextVar("translations", default=_UNTRANSLATED)


def load_catalogues(folder: Path = LOCALE_DIR) -> dict[str, NullTranslations]:
    found: dict[str, NullTranslations] = {}
    for locale in LOCALES:
        po = folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        found[locale] = Translations(compiled, domain=DOMAIN)
    return found


def gettext(message: str) -> str:
    return translations.get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations.get().ngettext(singular, plural, n)
