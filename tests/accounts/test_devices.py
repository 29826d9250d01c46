"""Known-device tokens (accounts.devices): bound to a username, unforgeable, expiring."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hearthcam.accounts.devices import DEVICE_LIFETIME, SECRET_FILE, DeviceKeys
from hearthcam.accounts.errors import AccountError

T0 = 1_700_000_000.0


def test_a_token_names_its_device_for_its_user_only(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    token = keys.issue("alice", T0)
    device = keys.device(token, "alice", T0 + 5)
    assert device is not None
    assert "alice" not in token  # the token names no user
    assert keys.device(token, "bob", T0 + 5) is None
    assert keys.device(keys.issue("alice", T0 + 9, device), "alice", T0 + 9) == device


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the MAC
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: ".".join([*t.split(".")[:2], "1", t.split(".")[3]]),  # the time
        lambda t: "v1.other." + ".".join(t.split(".")[2:]),  # the id
        lambda t: t + ".x",
        lambda _t: "",
        lambda _t: "a" * 500,
    ],
)
def test_a_changed_token_is_no_device(tmp_path: Path, tamper: object) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    token = keys.issue("alice", T0)
    assert callable(tamper)
    assert keys.device(tamper(token), "alice", T0) is None


def test_another_servers_token_and_an_old_one_are_no_device(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path / "a")
    token = keys.issue("alice", T0)
    assert DeviceKeys.load_or_create(tmp_path / "b").device(token, "alice", T0) is None
    assert keys.device(token, "alice", T0 + DEVICE_LIFETIME - 1) is not None
    assert keys.device(token, "alice", T0 + DEVICE_LIFETIME) is None
    assert keys.device(token, "alice", T0 - 3600) is None  # issued in the future


def test_the_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    token = DeviceKeys.load_or_create(tmp_path).issue("alice", T0)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DeviceKeys.load_or_create(tmp_path).device(token, "alice", T0) is not None
    path.write_bytes(b"short")
    with pytest.raises(AccountError):
        DeviceKeys.load_or_create(tmp_path)
