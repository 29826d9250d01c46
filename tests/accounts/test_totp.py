"""TOTP codes (drift window, replay) and recovery codes."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pyotp

from hearthcam.accounts.totp import (
    hash_recovery_code,
    match_totp,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
)
from tests.support.account_factories import T0, code

SECRET = new_secret()
STEP = int(T0 // 30)


def test_current_and_neighbouring_steps_match() -> None:
    assert match_totp(SECRET, code(SECRET, T0), T0, None) == STEP
    assert match_totp(SECRET, code(SECRET, T0 - 30), T0, None) == STEP - 1
    assert match_totp(SECRET, code(SECRET, T0 + 30), T0, None) == STEP + 1


def test_codes_two_steps_away_do_not_match() -> None:
    assert match_totp(SECRET, code(SECRET, T0 - 60), T0, None) is None
    assert match_totp(SECRET, code(SECRET, T0 + 60), T0, None) is None


def test_a_used_step_and_older_steps_are_refused() -> None:
    assert match_totp(SECRET, code(SECRET, T0), T0, STEP) is None
    assert match_totp(SECRET, code(SECRET, T0 - 30), T0, STEP) is None
    assert match_totp(SECRET, code(SECRET, T0 + 30), T0, STEP) == STEP + 1


def test_malformed_codes_do_not_match() -> None:
    good = code(SECRET, T0)
    for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", good + "0"]:
        assert match_totp(SECRET, bad, T0, None) is None
    assert match_totp(SECRET, f" {good[:3]} {good[3:]} ", T0, None) == STEP


def test_secret_and_provisioning_uri() -> None:
    assert len(SECRET) == 32
    assert pyotp.TOTP(SECRET).byte_secret()  # valid base32
    uri = urlparse(provisioning_uri(SECRET, "alice"))
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert uri.path == "/hearthcam:alice"
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["hearthcam"]


def test_recovery_codes_are_ten_distinct_codes_and_hash_as_typed() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    first = codes[0]
    assert hash_recovery_code(first) == hash_recovery_code(first.upper().replace("-", " "))
    assert hash_recovery_code(first) != hash_recovery_code(codes[1])
    assert first.replace("-", "") not in hash_recovery_code(first)
