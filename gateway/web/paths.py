"""Where the pages live: three areas, one per realm of users, each with its own sign-in.

- the registry's back office under /backoffice/ (its JSON API under /backoffice/api/v1/);
- the bank counter portal (银行端) under /bank/;
- the utility providers' portal under /provider/.

A session belongs to one realm: a bank clerk's session is not a back-office one, and the other areas treat
the browser as not signed in (their sign-in page asks again).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.api.routing import BACKOFFICE_API
from gateway.security.roles import Realm

__all__ = [
    "AREAS",
    "BACKOFFICE",
    "BANK",
    "HOME",
    "LOGIN",
    "PASSWORD",
    "PROVIDER",
    "PUBLIC_LANG",
    "PUBLIC_VERIFY",
    "QUEUE",
    "SIGN_OUT",
    "Area",
    "area_of",
    "is_page_path",
    "safe_next",
]


@dataclass(frozen=True)
class Area:
    name: str  # also the template folder: <name>/nav.html is the area's navigation
    prefix: str  # e.g. /bank
    realm: Realm
    start: str  # where a signed-in user lands

    @property
    def home(self) -> str:
        return self.prefix + "/"

    @property
    def login(self) -> str:
        return self.prefix + "/login"

    @property
    def sign_out(self) -> str:
        return self.prefix + "/logout"

    @property
    def password(self) -> str:
        return self.prefix + "/password"

    def holds(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.home)

    def safe_next(self, target: str | None) -> str:
        """Where to go after sign-in: only a page of this area (never another site: open redirect)."""
        if target and target.startswith(self.home) and not target.startswith("//") and "\\" not in target:
            return target
        return self.start


BACKOFFICE_AREA = Area("backoffice", "/backoffice", Realm.REGISTRY, "/backoffice/queue")
BANK_AREA = Area("bank", "/bank", Realm.BANK, "/bank/cases")
PROVIDER_AREA = Area("provider", "/provider", Realm.PROVIDER, "/provider/jobs")
AREAS = (BACKOFFICE_AREA, BANK_AREA, PROVIDER_AREA)

# The back office's own paths (its pages name them).
BACKOFFICE = BACKOFFICE_AREA.prefix
BANK = BANK_AREA.prefix
PROVIDER = PROVIDER_AREA.prefix
HOME = BACKOFFICE_AREA.home
LOGIN = BACKOFFICE_AREA.login
SIGN_OUT = BACKOFFICE_AREA.sign_out
PASSWORD = BACKOFFICE_AREA.password
QUEUE = BACKOFFICE_AREA.start


def area_of(path: str) -> Area:
    """The area a page path belongs to (`/` and the static files: the back office's)."""
    return next((a for a in AREAS if a.holds(path)), BACKOFFICE_AREA)


# The public verification page (the address in every issued certificate's QR code: never moves).
PUBLIC_VERIFY = "/public/verify"
PUBLIC_LANG = "/public/lang"


def is_page_path(path: str) -> bool:
    """A path the page pipeline serves: `/`, the areas' pages, the public verification page, the static
    files (never an API path: /public/api/v1/ stays JSON)."""
    if path in ("/", PUBLIC_VERIFY) or path.startswith(("/static/", PUBLIC_VERIFY + "/", PUBLIC_LANG + "/")):
        return True
    if path.startswith(BACKOFFICE_API):
        return False
    return any(a.holds(path) for a in AREAS)


def safe_next(target: str | None) -> str:
    return BACKOFFICE_AREA.safe_next(target)
