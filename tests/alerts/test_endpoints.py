"""Push endpoints that point back into this box or its LAN, by name, literal or resolution."""

from __future__ import annotations

from hearthcam.alerts.endpoints import named_inside, points_inside


def test_names_and_literals() -> None:
    for host in (
        "localhost",
        "a.localhost",
        "router.lan",
        "nas.local",
        "pi.home",
        "10.0.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "169.254.1.1",
        "LOCALHOST.",
    ):
        assert named_inside(host), host
    for host in ("fcm.googleapis.com", "8.8.8.8", "2001:4860:4860::8888", "push.example"):
        assert not named_inside(host), host


def test_a_public_name_resolving_to_a_lan_address_is_inside() -> None:
    table = {
        "updates.example": ["142.250.180.10", "192.168.1.20"],
        "push.example": ["142.250.180.11"],
    }
    assert points_inside("updates.example", lambda h: table.get(h, []))
    assert not points_inside("push.example", lambda h: table.get(h, []))
    assert not points_inside("nowhere.example", lambda h: [])
