"""Who is on the other end of a request: its address and whether it came over TLS (behind trusted proxies)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web
from pydantic import IPvAnyNetwork

from gateway.api.keys import API

__all__ = ["client_address", "is_secure"]


def client_address(request: web.Request) -> str:
    """The caller's address: the peer's, or behind trusted proxies (GW_API__TRUSTED_PROXIES) the nearest
    X-Forwarded-For entry none of them added. Each proxy appends the address it saw, so entries are read from
    the right and only while the hop before is trusted: an entry the caller wrote itself is never taken
    (RFC 7239 §7.4)."""
    trusted = request.app[API].settings.trusted_proxies
    address = request.remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    while hops and address is not None and _is_trusted(address, trusted):
        address = hops.pop()
    return (address or "")[:64]


def is_secure(request: web.Request) -> bool:
    """Whether the browser reached us over TLS, so a cookie may (and must) be marked Secure."""
    settings = request.app[API].settings
    if settings.secure_cookies != "auto":
        return settings.secure_cookies == "always"
    if request.secure:
        return True
    from_proxy = request.remote is not None and _is_trusted(request.remote, settings.trusted_proxies)
    return from_proxy and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _is_trusted(address: str, trusted: Sequence[IPvAnyNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown", an obfuscated identifier: not a proxy of ours
        return False
    return any(ip in network for network in trusted)
