"""Where the pages live: the back office under /backoffice/ (its JSON API under /backoffice/api/v1/)."""

from __future__ import annotations

from gateway.api.routing import BACKOFFICE_API

__all__ = [
    "HOME",
    "LOGIN",
    "PASSWORD",
    "PUBLIC_LANG",
    "PUBLIC_VERIFY",
    "QUEUE",
    "SIGN_OUT",
    "is_page_path",
    "safe_next",
]

BACKOFFICE = "/backoffice"
HOME = BACKOFFICE + "/"
LOGIN = BACKOFFICE + "/login"
SIGN_OUT = BACKOFFICE + "/logout"
PASSWORD = BACKOFFICE + "/password"
QUEUE = BACKOFFICE + "/queue"
# The public verification page (the address in every issued certificate's QR code: never moves).
PUBLIC_VERIFY = "/public/verify"
PUBLIC_LANG = "/public/lang"


def is_page_path(path: str) -> bool:
    """A path the page pipeline serves: `/`, the back office's pages, the public verification page, the
    static files (never an API path: /public/api/v1/ stays JSON)."""
    if path in ("/", BACKOFFICE, PUBLIC_VERIFY) or path.startswith(
        ("/static/", PUBLIC_VERIFY + "/", PUBLIC_LANG + "/")
    ):
        return True
    return path.startswith(HOME) and not path.startswith(BACKOFFICE_API)


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a page of the back office (never another site: open redirect)."""
    if target and target.startswith(HOME) and not target.startswith("//") and "\\" not in target:
        return target
    return QUEUE
