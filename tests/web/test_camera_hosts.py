"""The address rule for app cameras: every spelling of a host read as the resolver reads it,
refused addresses refused whatever the config says, the rest held to the allowed networks.
Pure: names resolve from a table, nothing connects."""

from __future__ import annotations

import ipaddress

import pytest

from hearthcam.config import parse_config
from hearthcam.web.camera_hosts import (
    HostPolicy,
    StreamRefused,
    address_literal,
    effective,
    ipv4_literal,
    same_host,
)

DNS = {
    "cam.lan": ["192.168.1.20"],
    "split.example": ["192.168.1.21", "169.254.169.254"],
    "public.example": ["142.250.180.10"],
    "v6.example": ["fd12::7"],
}


def policy(*networks: str) -> HostPolicy:
    data = {"cameras_allowed_networks": list(networks)} if networks else {}
    allowed = parse_config(data).cameras_allowed_networks
    return HostPolicy(allowed, lambda host: DNS.get(host, []))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("2852039166", "169.254.169.254"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("192.168.1.20.", "192.168.1.20"),
    ],
)
def test_every_ipv4_spelling_is_read_as_the_resolver_reads_it(host: str, address: str) -> None:
    assert address_literal(host) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["cam.lan", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "0x", "1..2"])
def test_names_and_impossible_numbers_are_not_literals(host: str) -> None:
    assert ipv4_literal(host) is None


def test_ipv4_inside_ipv6_is_judged_as_ipv4() -> None:
    for host in ("::ffff:169.254.169.254", "[::ffff:a9fe:a9fe]", "64:ff9b::a9fe:a9fe",
                 "2002:a9fe:a9fe::1", "::169.254.169.254"):  # fmt: skip
        found = address_literal(host)
        assert found is not None, host
        assert effective(found) == ipaddress.IPv4Address("169.254.169.254"), host
    assert effective(ipaddress.IPv6Address("::1")) == ipaddress.IPv6Address("::1")


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254", "2852039166", "0xa9fea9fe", "::ffff:169.254.169.254", "fe80::1",
        "fd00:ec2::254", "100.100.100.200", "168.63.129.16", "0.0.0.0", "0", "::", "0.1.2.3",
        "224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1", "240.0.0.1",
        "split.example",
    ],
)  # fmt: skip
def test_refused_addresses_stay_refused_even_if_every_network_is_allowed(host: str) -> None:
    with pytest.raises(StreamRefused, match="not allowed for a camera"):
        policy("0.0.0.0/0", "::/0").vetted(host)


def test_by_default_only_private_networks_and_loopback_are_allowed() -> None:
    rule = policy()
    assert rule.vetted("cam.lan") == ipaddress.IPv4Address("192.168.1.20")
    assert rule.vetted("0x7f.1") == ipaddress.IPv4Address("127.0.0.1")
    assert rule.vetted("10.1.2.3") == ipaddress.IPv4Address("10.1.2.3")
    assert rule.vetted("v6.example") == ipaddress.IPv6Address("fd12::7")
    assert rule.vetted("::1") == ipaddress.IPv6Address("::1")
    assert rule.vetted("::ffff:192.168.1.9") == ipaddress.IPv6Address("::ffff:192.168.1.9")
    for host in ("public.example", "142.250.180.10", "::ffff:8.8.8.8", "100.64.0.1"):
        with pytest.raises(StreamRefused, match="outside the camera networks"):
            rule.vetted(host)
    with pytest.raises(StreamRefused, match="does not resolve"):
        rule.vetted("nowhere.example")


def test_an_admin_names_the_camera_networks() -> None:
    rule = policy("192.168.7.0/24", "100.64.0.0/10")
    assert rule.vetted("100.64.0.1") == ipaddress.IPv4Address("100.64.0.1")
    assert rule.vetted("192.168.7.3") == ipaddress.IPv4Address("192.168.7.3")
    for host in ("cam.lan", "127.0.0.1", "10.0.0.1"):
        with pytest.raises(StreamRefused, match="outside the camera networks"):
            rule.vetted(host)


def test_same_host_compares_literals_as_addresses() -> None:
    assert same_host("127.0.0.1", "0x7f.1")
    assert same_host("Cam.LAN.", "cam.lan")
    assert not same_host("cam.lan", "192.168.1.20")
    assert not same_host("127.0.0.1", "localhost")
    assert not same_host("127.0.0.1", "127.0.0.2")
