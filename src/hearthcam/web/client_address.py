"""Who a request came from: the peer's address, or the one a trusted proxy forwarded.

``X-Forwarded-For`` is anyone's to write, so it is believed only from the proxies the owner
named (``web.trusted_proxies``; none by default). Uvicorn's own handling trusted it from
loopback, so any local process (or a rebinding page's proxy) could pick the address that login
throttling counts against; uvicorn's is off (serve.py) and this is the only reading.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
# A longer header is not a real proxy chain; it is ignored rather than parsed.
MAX_FORWARDED = 2048


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The networks whose forwarding headers are believed."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From the config's strings (already checked by ``WebConfig``)."""
        return cls(tuple(ipaddress.ip_network(e, strict=False) for e in entries))

    def trusts(self, host: str) -> bool:
        """Whether ``host`` is one of the trusted proxies."""
        address = _address(host)
        return address is not None and any(address in net for net in self.networks)

    def client(self, conn: HTTPConnection) -> str:
        """The client's address: the peer, unless the peer is a trusted proxy and forwarded one.

        The chain is read from the right (the proxy nearest us wrote last) and the first
        address that is not itself a trusted proxy is the client; what lies left of it was
        written by the client and may be anything.
        """
        peer = conn.client.host if conn.client is not None else UNKNOWN
        if not self.trusts(peer):
            return peer
        forwarded = ",".join(conn.headers.getlist("x-forwarded-for"))
        if not forwarded or len(forwarded) > MAX_FORWARDED:
            return peer
        for hop in reversed(forwarded.split(",")):
            address = _address(hop)
            if address is None:
                return peer  # a garbled chain: believe none of it
            if not self.trusts(str(address)):
                return str(address)
        return peer

    def https(self, conn: HTTPConnection) -> bool:
        """Whether the browser spoke HTTPS: to us, or to a trusted proxy that says so."""
        if conn.url.scheme in ("https", "wss"):
            return True
        peer = conn.client.host if conn.client is not None else UNKNOWN
        proto = conn.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return proto == "https" and self.trusts(peer)
