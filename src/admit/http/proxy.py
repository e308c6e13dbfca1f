"""What arrives from in front of admit: a reverse proxy's forwarded headers, and request lines
near gunicorn's limit.

``ADMIT_TRUSTED_PROXY`` (``admit.config``) names the proxies, by address or network. A request
from one of them gets the client's address from ``X-Forwarded-For`` into ``REMOTE_ADDR`` (so
rate limits and the audit log see the client, not the proxy) and keeps its
``X-Forwarded-Proto``, which ``SECURE_PROXY_SSL_HEADER`` reads; from anyone else
``X-Forwarded-Proto`` is dropped, so a client cannot claim a TLS it did not use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from admit.core.errors import Code
from admit.http.envelope import error_response, is_api_path

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The longest query string an API call may carry; longer ones are refused with 414 and the
# error envelope. `admit serve` lets gunicorn read request lines of up to 8190 bytes (its
# maximum), so gunicorn's own HTML 414 only answers request lines longer than that.
MAX_QUERY_STRING_BYTES = 4096


def _address(text: str) -> Address | None:
    """``text`` as an IP address; ``[v6]``, ``[v6]:port`` and ``v4:port`` lose their port."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_client(forwarded_for: str, proxies: tuple[Network, ...]) -> str | None:
    """The client's address in a trusted proxy's ``X-Forwarded-For``: the right-most entry that
    is not itself one of ``proxies`` (each proxy appends the address it was called from, so
    only the entries our own proxies wrote can be believed). None when the header is missing
    or that entry is not an IP address: the caller then keeps the proxy's address."""
    hops = forwarded_for.split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return None
        if not _trusted(address, proxies):
            return str(address)
    # Every hop is one of our proxies (a call from inside): the first one is the origin.
    return str(_address(hops[0]))


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxies)


class TrustedProxyMiddleware:
    """Sets ``REMOTE_ADDR`` from ``X-Forwarded-For`` for requests from a trusted proxy, and
    drops ``X-Forwarded-Proto`` from all others. Not used without ``ADMIT_TRUSTED_PROXY``:
    then ``REMOTE_ADDR`` is the peer and ``SECURE_PROXY_SSL_HEADER`` is unset."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.proxies: tuple[Network, ...] = settings.ADMIT_TRUSTED_PROXIES
        if not self.proxies:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = _address(meta.get("REMOTE_ADDR", ""))
        if peer is not None and _trusted(peer, self.proxies):
            client = forwarded_client(meta.get("HTTP_X_FORWARDED_FOR", ""), self.proxies)
            if client is not None:
                meta["REMOTE_ADDR"] = client
        else:
            meta.pop("HTTP_X_FORWARDED_PROTO", None)
        return self.get_response(request)


class QueryStringLimitMiddleware:
    """An API call whose query string is longer than ``MAX_QUERY_STRING_BYTES`` gets 414 in the
    error envelope; pages are left to gunicorn's own limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES and is_api_path(
            request.path
        ):
            return error_response(
                request.cid,  # type: ignore[attr-defined]
                [Code.INPUT_INVALID],
                414,
                [
                    {
                        "field": "request",
                        "problem": f"query string longer than {MAX_QUERY_STRING_BYTES} bytes",
                    }
                ],
            )
        return self.get_response(request)
