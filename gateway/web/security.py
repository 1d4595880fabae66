"""The page layer's security in one place: headers (CSP), the session cookie, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from gateway.api.clients import is_secure

__all__ = [
    "CSP",
    "LANG_COOKIE",
    "PRE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "clear_session_cookie",
    "csrf_for",
    "csrf_matches",
    "new_pre_session",
    "secure_headers",
    "set_cookie",
]

SESSION_COOKIE = "gw_session"
# Before sign-in there is no session to bind the login form's CSRF token to: a random cookie stands in.
PRE_SESSION_COOKIE = "gw_pre"
LANG_COOKIE = "gw_lang"
COOKIE_PATH = "/"

# Everything from this origin, nothing inline, nothing from anywhere else (the registry's network is
# isolated: no CDN, no outside fonts). Materials are framed by our own pages only. connect-src: the bank
# counter's form posts its scans with XMLHttpRequest, to show the upload's progress.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; script-src 'self'; "
    "connect-src 'self'; "
    "frame-src 'self'; object-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure_headers(response: web.StreamResponse, *, cacheable: bool = False) -> None:
    for name, value in _HEADERS.items():
        if name == "Cache-Control" and cacheable:
            continue
        response.headers.setdefault(name, value)


def csrf_for(seed: str) -> str:
    """The form token of a session (or pre-session): derived from its secret cookie, which a page of
    another origin can neither read nor send with SameSite=Strict."""
    return hmac.new(seed.encode(), b"gateway-csrf", hashlib.sha256).hexdigest()


def csrf_matches(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def new_pre_session() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, *, http_only: bool = True
) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=http_only,
        samesite="Strict",
        secure=is_secure(request),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
