"""Identities: the key file (made safely, refused when exposed or broken) and keys as text."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthcam.errors import HearthcamError
from hearthcam.hub import identity as hub_identity
from hearthcam.hub.identity import (
    HubError,
    Identity,
    decode_b64,
    key_id_of,
    load_or_create,
    public_key_from_b64,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_hub_error_is_a_hearthcam_error() -> None:
    assert issubclass(HubError, HearthcamError)


def test_created_file_is_private_and_reloads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "hub" / "keys" / "identity.pem"
    first = load_or_create(path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) & 0o077 == 0
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_or_create(path)
    assert second.public_raw == first.public_raw
    assert second == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_two_files_hold_different_keys(tmp_path: Path) -> None:
    one = load_or_create(tmp_path / "one.pem")
    two = load_or_create(tmp_path / "two.pem")
    assert one != two
    assert one.key_id != two.key_id


def test_signature_verifies_under_the_public_key(tmp_path: Path) -> None:
    identity = load_or_create(tmp_path / "id.pem")
    signature = identity.sign(b"hello")
    assert len(signature) == 64
    public = public_key_from_b64(identity.public_b64)
    public.verify(signature, b"hello")  # raises InvalidSignature if wrong


def test_public_forms_agree() -> None:
    identity = Identity(Ed25519PrivateKey.generate())
    raw = identity.public_raw
    assert len(raw) == 32
    assert "=" not in identity.public_b64
    assert base64.urlsafe_b64decode(identity.public_b64 + "=") == raw
    assert len(identity.key_id) == 16
    assert int(identity.key_id, 16) >= 0
    assert key_id_of(identity.private.public_key()) == identity.key_id
    groups = identity.fingerprint().split(" ")
    assert len(groups) == 16
    assert all(len(group) == 4 for group in groups)
    assert "".join(groups).startswith(identity.key_id)
    assert identity.key_id in repr(identity)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "identity.pem"
    load_or_create(path)
    os.chmod(path, mode)
    with pytest.raises(HubError, match="chmod 600") as caught:
        load_or_create(path)
    assert str(path) in str(caught.value)
    assert _mode(path) == mode  # refused, not silently fixed


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_garbage_file_is_refused_naming_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "identity.pem"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(HubError) as caught:
        load_or_create(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content  # never overwritten


def test_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    with pytest.raises(HubError, match="not an Ed25519") as caught:
        load_or_create(path)
    assert str(path) in str(caught.value)


def test_encrypted_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.pem"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    with pytest.raises(HubError, match="unencrypted") as caught:
        load_or_create(path)
    assert str(path) in str(caught.value)


def test_public_key_from_b64_round_trips_and_tolerates_a_trailing_newline() -> None:
    identity = Identity(Ed25519PrivateKey.generate())
    assert key_id_of(public_key_from_b64(identity.public_b64)) == identity.key_id
    assert key_id_of(public_key_from_b64(identity.public_b64 + "\n")) == identity.key_id


def _flip_spare_bits(text: str) -> str:
    """The same 32 bytes spelled with non-zero spare bits in the last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) ^ 1]


def test_public_key_from_b64_rejects_bad_input() -> None:
    good = Identity(Ed25519PrivateKey.generate()).public_b64
    bad = [
        "",
        good[:-1],  # 31 bytes and a bit
        good[:-3],  # 30 bytes
        good + "AAAA",  # 35 bytes
        base64.urlsafe_b64encode(bytes(33)).decode().rstrip("="),
        good + "=",  # padding
        good[:10] + "!" + good[11:],  # a character outside the alphabet
        good[:10] + "+" + good[11:],  # standard, not urlsafe, alphabet
        good[:20] + " " + good[21:],
        _flip_spare_bits(good),  # a second spelling of the same key
    ]
    for text in bad:
        with pytest.raises(HubError):
            public_key_from_b64(text)


def test_decode_b64_is_strict() -> None:
    assert decode_b64("AAEC") == b"\x00\x01\x02"
    assert decode_b64("AAE") == b"\x00\x01"
    for text in ["A", "AAE=", "AA E", "AAF"]:  # "AAF": spare bits set
        with pytest.raises(ValueError, match="base64"):
            decode_b64(text)


def test_a_key_made_meanwhile_by_another_process_is_the_one_both_load(tmp_path: Path) -> None:
    # Two processes both saw no file: the second one's write must not replace the first's key
    # (each would then hold a different identity).
    path = tmp_path / "id" / "home.pem"
    first = load_or_create(path)
    hub_identity._create(path)  # the slower process, after its own "no file yet"
    assert load_or_create(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["home.pem"]  # no part file left
