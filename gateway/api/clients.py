"""Who is on the other end of a request: its address and whether it came over TLS (behind trusted proxies)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.keys import API

__all__ = ["client_address", "is_secure"]


def _from_trusted_proxy(request: web.Request) -> bool:
    return (request.remote or "") in request.app[API].settings.trusted_proxies


def client_address(request: web.Request) -> str:
    """The client's IP: the peer, or the first X-Forwarded-For hop when the peer is a trusted proxy (an
    untrusted client could write any address there)."""
    if _from_trusted_proxy(request):
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
    return request.remote or ""


def is_secure(request: web.Request) -> bool:
    """Whether the browser reached us over TLS, so a cookie may (and must) be marked Secure."""
    mode = request.app[API].settings.secure_cookies
    if mode != "auto":
        return mode == "always"
    if request.secure:
        return True
    return _from_trusted_proxy(request) and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
