"""Whose X-Forwarded-For is believed (web.client_address.TrustedProxies), without a server."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from hearthcam.web.client_address import TrustedProxies

PROXIES = TrustedProxies.parse(["10.0.0.2", "fd00::/8"])


def _request(peer: str, *headers: tuple[str, str], scheme: str = "http") -> Request:
    raw = [(k.encode(), v.encode()) for k, v in headers]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": scheme,
            "server": ("testserver", 80),
            "path": "/",
            "headers": raw,
            "client": (peer, 40000),
        }
    )


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", "192.0.2.1", "203.0.113.9"),  # not a proxy: ignored
        ("127.0.0.1", "192.0.2.1", "127.0.0.1"),  # loopback is not trusted by default
        ("10.0.0.2", "192.0.2.1", "192.0.2.1"),
        ("10.0.0.2", "6.6.6.6, 192.0.2.1", "192.0.2.1"),  # the left part is the client's
        ("10.0.0.2", "192.0.2.1, fd00::5", "192.0.2.1"),  # through two trusted proxies
        ("fd00::1", "[2001:db8::7]", "2001:db8::7"),
        ("10.0.0.2", "192.0.2.1, not-an-address", "10.0.0.2"),  # garbled: none believed
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "10.0.0.2", "10.0.0.2"),
        ("10.0.0.2", "1.1.1.1," * 400, "10.0.0.2"),  # too long to be a real chain
    ],
)
def test_the_client_address(peer: str, forwarded: str, client: str) -> None:
    headers = [("x-forwarded-for", forwarded)] if forwarded else []
    assert PROXIES.client(_request(peer, *headers)) == client


def test_https_is_believed_from_a_trusted_proxy_only() -> None:
    proto = ("x-forwarded-proto", "https")
    assert PROXIES.https(_request("10.0.0.2", proto))
    assert not PROXIES.https(_request("203.0.113.9", proto))
    assert PROXIES.https(_request("203.0.113.9", scheme="https"))
    assert not TrustedProxies().https(_request("127.0.0.1", proto))
