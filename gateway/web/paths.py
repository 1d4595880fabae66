"""Where the pages live: the back office under /backoffice/ (its JSON API under /backoffice/api/v1/)."""

from __future__ import annotations

from gateway.api.routing import BACKOFFICE_API

__all__ = ["HOME", "LOGIN", "PASSWORD", "QUEUE", "SIGN_OUT", "is_page_path", "safe_next"]

BACKOFFICE = "/backoffice"
HOME = BACKOFFICE + "/"
LOGIN = BACKOFFICE + "/login"
SIGN_OUT = BACKOFFICE + "/logout"
PASSWORD = BACKOFFICE + "/password"
QUEUE = BACKOFFICE + "/queue"


def is_page_path(path: str) -> bool:
    """A path the page pipeline serves: `/`, the back office's pages, their static files."""
    if path in ("/", BACKOFFICE) or path.startswith("/static/"):
        return True
    return path.startswith(HOME) and not path.startswith(BACKOFFICE_API)


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a page of the back office (never another site: open redirect)."""
    if target and target.startswith(HOME) and not target.startswith("//") and "\\" not in target:
        return target
    return QUEUE
