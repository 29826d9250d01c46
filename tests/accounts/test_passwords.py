"""Username and password rules, argon2id hashing, the dummy hash and rehashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles

from hearthcam.accounts.errors import InvalidUsername
from hearthcam.accounts.passwords import (
    MAX_PASSWORD,
    Passwords,
    check_username,
    password_problems,
    username_key,
)
from tests.support.account_factories import cheap_hasher


@pytest.mark.parametrize("name", ["alice", "Bob.Smith", "carol@example.org", "d_e-f", "a" * 64])
def test_valid_usernames(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["", "al", "a" * 65, "al ice", "-alice", "ålice", "alice\n"])
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(InvalidUsername):
        check_username(name)


def test_username_key_is_case_insensitive() -> None:
    assert username_key("Alice") == username_key("ALICE") == "alice"


def test_password_rules() -> None:
    assert password_problems("correct horse battery", "alice") == []
    assert password_problems("short", "alice") == ["a password needs at least 10 characters"]
    assert password_problems("xxALICExx-123", "alice") == [
        "a password must not contain the username"
    ]
    assert password_problems("x" * (MAX_PASSWORD + 1), "alice") == [
        f"a password has at most {MAX_PASSWORD} characters"
    ]


def test_hash_is_argon2id_and_verifies() -> None:
    passwords = Passwords(cheap_hasher())
    encoded = passwords.hash("correct horse battery")
    assert encoded.startswith("$argon2id$")
    assert "correct" not in encoded
    assert passwords.verify(encoded, "correct horse battery")
    assert not passwords.verify(encoded, "correct horse battery!")


def test_unknown_user_and_broken_hash_never_verify() -> None:
    passwords = Passwords(cheap_hasher())
    assert not passwords.verify(None, "anything at all")
    assert not passwords.verify("not-a-hash", "anything at all")


def test_same_password_in_another_unicode_form_matches() -> None:
    passwords = Passwords(cheap_hasher())
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in "correct")  # NFKC maps these to ASCII
    encoded = passwords.hash(fullwidth + " horse")
    assert passwords.verify(encoded, "correct horse")


def test_needs_rehash_when_parameters_change() -> None:
    old = Passwords(cheap_hasher()).hash("correct horse battery")
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=8, parallelism=1))
    assert stronger.needs_rehash(old)
    assert not Passwords(cheap_hasher()).needs_rehash(old)
    assert stronger.needs_rehash("garbage")


def test_production_default_is_rfc9106_low_memory() -> None:
    low = profiles.RFC_9106_LOW_MEMORY
    encoded = Passwords().hash("correct horse battery")
    assert encoded.startswith("$argon2id$")
    assert f"$m={low.memory_cost},t={low.time_cost},p={low.parallelism}$" in encoded
