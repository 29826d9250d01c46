"""Which hosts a camera added from the app may be on, decided before anything connects.

The stream test opens whatever URL a user types, so without a rule it reaches anything the
server can: the cloud metadata service, the server's own ports, other households' networks.
Cameras on the LAN are the point, so the rule is on *addresses*, never on names:

* the host is read the way the C resolver reads it (``0x7f.1``, ``2130706433``, ``0177.0.0.1``
  and ``127.1`` are all 127.0.0.1), IPv6 literals included, and an IPv4 address carried inside
  IPv6 (mapped ``::ffff:a.b.c.d``, compatible, 6to4, NAT64) is judged as that IPv4 address;
* a name is resolved and *every* address it gives must pass (a name with one LAN and one
  metadata address is refused);
* unspecified, link-local (169.254/16 holds the metadata service), multicast, broadcast,
  reserved and known metadata addresses are refused always, whatever the config says;
* everything else must lie in ``cameras_allowed_networks`` (default: private ranges and
  loopback), so a server shared by several households only reaches the camera networks its
  admin names.

``HostPolicy.vetted`` returns the address to connect to, so the caller can connect to exactly
the address that was checked (a name re-pointed after the check does not matter).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from hearthcam.errors import SourceError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]

# Metadata services outside link-local: AWS's IPv6 one, Alibaba's, Azure's wire server.
METADATA: Final = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
_THIS_NETWORK: Final = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST: Final = ipaddress.IPv4Address("255.255.255.255")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE: Final = ipaddress.ip_network("::/96")
_PART: Final = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


class StreamRefused(SourceError):
    """A stream URL the app will not connect to (its host, a redirect or a playlist entry)."""


def ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as inet_aton reads it (1 to 4 dot-separated decimal, 0x-hex or 0-octal parts,
    the last filling the remaining bytes); None when it is not such a literal."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.fullmatch(p) for p in parts):
        return None
    values = [int(p, 16) if p[:2].lower() == "0x" else int(p, 8 if p[:1] == "0" else 10)
              for p in parts]  # fmt: skip
    last_bits = 8 * (5 - len(values))
    if any(v > 0xFF for v in values[:-1]) or values[-1] >= 1 << last_bits:
        return None
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number |= value << (24 - 8 * index)
    return ipaddress.IPv4Address(number)


def address_literal(host: str) -> Address | None:
    """The address a host that is a literal names (any IPv4 form, IPv6); None for a name."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)  # a zone ("%eth0") is refused with the name
        except ValueError:
            return None
    return ipv4_literal(host.rstrip("."))


def effective(address: Address) -> Address:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), else itself."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return low
    return address


def always_refused(address: Address) -> str | None:
    """Why no camera may be at ``address`` whatever the config says; None if it may."""
    judged = effective(address)
    if judged in METADATA or address in METADATA:
        return "a cloud metadata address"
    if judged.is_unspecified or (judged.version == 4 and judged in _THIS_NETWORK):
        return "an unspecified address"
    if judged.is_link_local:
        return "a link-local address"
    if judged.is_multicast or judged == _BROADCAST:
        return "a multicast or broadcast address"
    if judged.is_reserved and not judged.is_loopback:  # ::1 lies in the reserved ::/8
        return "a reserved address"
    return None


@dataclass(frozen=True)
class HostPolicy:
    """The address rule of the module docstring over ``allowed`` networks and a resolver."""

    allowed: Sequence[Network]
    resolve: Resolver

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` may not be a camera's; None if it may."""
        reason = always_refused(address)
        if reason is not None:
            return reason
        judged = effective(address)
        if not any(judged in net or address in net for net in self.allowed):
            return "outside the camera networks this server allows"
        return None

    def vetted(self, host: str) -> Address:
        """The address to connect to for ``host``; StreamRefused when it is not allowed (every
        address a name resolves to must be)."""
        literal = address_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            addresses = [a for a in map(address_literal, self.resolve(host)) if a is not None]
            if not addresses:
                raise StreamRefused(f"{host}: the host name does not resolve")
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                raise StreamRefused(f"{host}: not allowed for a camera ({reason})")
        return addresses[0]


def same_host(a: str, b: str) -> bool:
    """Whether two URL hosts name the same host (literals compared as addresses)."""
    first, second = address_literal(a), address_literal(b)
    if first is not None or second is not None:
        return first == second
    return a.lower().rstrip(".") == b.lower().rstrip(".")
