"""Whether a URL the server is asked to POST to points back into this box or its LAN.

Push endpoints come from browsers, so a member could register ``https://router.lan/reboot`` and
have the server call it at every alert. A host counts as inside when its name is a local one
(``localhost``, ``*.local``, ``*.lan``, ``*.home``), when it is a non-global IP literal, or when
it *resolves* to any non-global address (a public name pointed at a LAN address). The check runs
when the endpoint is stored and again before each send (the name may have been re-pointed since).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

Resolver = Callable[[str], list[str]]
LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".home")


def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to now; [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _inside_literal(address: str) -> bool:
    try:
        return not ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def named_inside(host: str) -> bool:
    """Whether the host's own name or literal is local (no lookup)."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(LOCAL_SUFFIXES)
    return _inside_literal(host)


def points_inside(host: str, resolver: Resolver = resolve) -> bool:
    """Whether the host is local by name or literal, or resolves to a non-global address."""
    return named_inside(host) or any(_inside_literal(a) for a in resolver(host))
