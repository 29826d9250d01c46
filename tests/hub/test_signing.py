"""Signed requests and responses: round trips, every tampering, replays, stale times, pinning."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hearthcam.hub.identity import HubError, Identity, decode_b64, encode_b64
from hearthcam.hub.signing import (
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    RequestVerifier,
    SignatureError,
    sign_request,
    sign_response,
    verify_response,
)

T0 = 1_800_000_000.0
WINDOW = 60.0
BODY = b'{"clip": "abc"}'
TARGET = "/api/clips?since=5"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _identity() -> Identity:
    return Identity(Ed25519PrivateKey.generate())


def _keys(*identities: Identity) -> Callable[[str], Ed25519PublicKey | None]:
    known = {identity.key_id: identity.private.public_key() for identity in identities}
    return known.get


def _verifier(*identities: Identity, clock: Clock | None = None) -> RequestVerifier:
    return RequestVerifier(_keys(*identities), window_s=WINDOW, clock=clock or Clock(T0))


def _tampered_signature(text: str) -> str:
    signature = bytearray(decode_b64(text))
    signature[5] ^= 0x01
    return encode_b64(bytes(signature))


def _reason(
    verifier: RequestVerifier, method: str, target: str, body: bytes, headers: dict[str, str]
) -> str:
    with pytest.raises(SignatureError) as caught:
        verifier.verify(method, target, body, headers)
    return caught.value.reason


def test_signature_error_is_a_hub_error() -> None:
    assert issubclass(SignatureError, HubError)
    assert SignatureError("stale").reason == "stale"


def test_request_round_trip() -> None:
    home = _identity()
    headers = sign_request(home, "post", TARGET, BODY, now=T0)
    assert set(headers) == {KEY_HEADER, TIME_HEADER, NONCE_HEADER, SIGNATURE_HEADER}
    assert headers[KEY_HEADER] == home.key_id
    assert headers[TIME_HEADER] == str(int(T0))
    assert len(decode_b64(headers[NONCE_HEADER])) == 16
    assert _verifier(home).verify("POST", TARGET, BODY, headers) == home.key_id


def test_header_names_are_case_insensitive() -> None:
    home = _identity()
    headers = sign_request(home, "GET", "/", b"", now=T0)
    lowered = {name.lower(): value for name, value in headers.items()}
    upper = {name.upper(): value for name, value in headers.items()}
    assert _verifier(home).verify("GET", "/", b"", lowered) == home.key_id
    assert _verifier(home).verify("GET", "/", b"", upper) == home.key_id


def test_fresh_nonces_differ() -> None:
    home = _identity()
    nonces = {sign_request(home, "GET", "/", b"", now=T0)[NONCE_HEADER] for _ in range(20)}
    assert len(nonces) == 20


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", TARGET, BODY),  # another method
        ("POST", "/api/clips?since=6", BODY),  # another query
        ("POST", "/api/clips", BODY),  # the query dropped
        ("POST", TARGET, BODY + b" "),  # another body
        ("POST", TARGET, b""),
    ],
)
def test_tampered_request_is_a_bad_signature(method: str, target: str, body: bytes) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    assert _reason(_verifier(home), method, target, body, headers) == "bad signature"


@pytest.mark.parametrize(
    ("name", "change"),
    [
        (TIME_HEADER, lambda text: str(int(text) + 1)),
        (NONCE_HEADER, lambda text: encode_b64(bytes(16))),
        (SIGNATURE_HEADER, _tampered_signature),
        (SIGNATURE_HEADER, lambda text: text[:-2]),  # too short
        (SIGNATURE_HEADER, lambda text: text[:10] + "!" + text[11:]),  # not base64
    ],
)
def test_tampered_header_is_a_bad_signature(name: str, change: Callable[[str], str]) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    headers[name] = change(headers[name])
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "bad signature"


def test_another_known_key_id_is_a_bad_signature() -> None:
    home, neighbour = _identity(), _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    headers[KEY_HEADER] = neighbour.key_id
    assert _reason(_verifier(home, neighbour), "POST", TARGET, BODY, headers) == "bad signature"


def test_unknown_key_is_refused() -> None:
    home, stranger = _identity(), _identity()
    headers = sign_request(stranger, "POST", TARGET, BODY, now=T0)
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "unknown key"
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    headers[KEY_HEADER] = "0" * 16
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "unknown key"


@pytest.mark.parametrize("name", [KEY_HEADER, TIME_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_missing_header_is_refused(name: str) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    del headers[name]
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "missing header"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (TIME_HEADER, "soon"),
        (TIME_HEADER, "1800000000.5"),
        (TIME_HEADER, "-1"),
        (NONCE_HEADER, "short"),
        (NONCE_HEADER, "a\nb" + "A" * 19),
    ],
)
def test_malformed_header_is_refused(name: str, value: str) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    headers[name] = value
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "missing header"


def test_missing_headers_are_checked_before_the_key() -> None:
    stranger = _identity()
    headers = sign_request(stranger, "POST", TARGET, BODY, now=T0)
    del headers[NONCE_HEADER]
    assert _reason(_verifier(), "POST", TARGET, BODY, headers) == "missing header"


@pytest.mark.parametrize("offset", [-WINDOW - 1, WINDOW + 1, -3600.0, 3600.0])
def test_stale_and_future_times_are_refused(offset: float) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0 + offset)
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "stale"


@pytest.mark.parametrize("offset", [-WINDOW, WINDOW, -1.0, 1.0])
def test_times_at_the_edge_of_the_window_are_accepted(offset: float) -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0 + offset)
    assert _verifier(home).verify("POST", TARGET, BODY, headers) == home.key_id


def test_stale_is_checked_before_the_signature() -> None:
    home = _identity()
    headers = sign_request(home, "POST", TARGET, BODY, now=T0 - 600)
    headers[SIGNATURE_HEADER] = _tampered_signature(headers[SIGNATURE_HEADER])
    assert _reason(_verifier(home), "POST", TARGET, BODY, headers) == "stale"


def test_replay_within_the_window_is_refused() -> None:
    home = _identity()
    clock = Clock(T0)
    verifier = _verifier(home, clock=clock)
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    verifier.verify("POST", TARGET, BODY, headers)
    clock.now = T0 + 30
    assert _reason(verifier, "POST", TARGET, BODY, headers) == "replayed"
    # A fresh time does not launder a nonce still remembered.
    again = sign_request(home, "POST", TARGET, BODY, now=clock.now, nonce=headers[NONCE_HEADER])
    assert _reason(verifier, "POST", TARGET, BODY, again) == "replayed"


def test_failed_request_does_not_spend_its_nonce() -> None:
    home = _identity()
    verifier = _verifier(home)
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    assert _reason(verifier, "POST", TARGET, b"forged", headers) == "bad signature"
    assert verifier.verify("POST", TARGET, BODY, headers) == home.key_id


def test_nonce_is_remembered_for_two_windows_then_forgotten() -> None:
    home = _identity()
    clock = Clock(T0)
    verifier = _verifier(home, clock=clock)
    first = sign_request(home, "POST", TARGET, BODY, now=T0)
    nonce = first[NONCE_HEADER]
    verifier.verify("POST", TARGET, BODY, first)

    # Still within two windows: the same nonce with a fresh time is a replay.
    clock.now = T0 + 2 * WINDOW
    fresh = sign_request(home, "POST", TARGET, BODY, now=clock.now, nonce=nonce)
    assert _reason(verifier, "POST", TARGET, BODY, fresh) == "replayed"

    # Beyond two windows the nonce is forgotten, but the old request is stale all the same.
    clock.now = T0 + 2 * WINDOW + 1
    assert _reason(verifier, "POST", TARGET, BODY, first) == "stale"
    fresh = sign_request(home, "POST", TARGET, BODY, now=clock.now, nonce=nonce)
    assert verifier.verify("POST", TARGET, BODY, fresh) == home.key_id


def test_remembered_nonces_stay_bounded() -> None:
    home = _identity()
    clock = Clock(T0)
    verifier = _verifier(home, clock=clock)
    for second in range(0, 600, 5):
        clock.now = T0 + second
        verifier.verify("GET", "/", b"", sign_request(home, "GET", "/", b"", now=clock.now))
    # One request every 5 s, kept for 2 * 60 s: 25 at most (both ends of the span).
    assert verifier.remembered <= 25
    assert verifier.remembered >= 24


def test_nonces_are_per_key() -> None:
    home, neighbour = _identity(), _identity()
    verifier = _verifier(home, neighbour)
    nonce = encode_b64(bytes(range(16)))
    first = sign_request(home, "GET", "/", b"", now=T0, nonce=nonce)
    second = sign_request(neighbour, "GET", "/", b"", now=T0, nonce=nonce)
    assert verifier.verify("GET", "/", b"", first) == home.key_id
    assert verifier.verify("GET", "/", b"", second) == neighbour.key_id


def test_concurrent_replays_accept_exactly_one() -> None:
    home = _identity()
    verifier = _verifier(home)
    headers = sign_request(home, "POST", TARGET, BODY, now=T0)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            outcomes.append(verifier.verify("POST", TARGET, BODY, headers))
        except SignatureError as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([home.key_id] + ["replayed"] * 7)


@pytest.mark.parametrize(
    ("method", "target", "nonce"),
    [
        ("GET", "relative", None),
        ("GET", "/a b", None),
        ("GET", "/a\nGET", None),
        ("GE T", "/", None),
        ("GET", "/", "short"),
    ],
)
def test_signing_refuses_ambiguous_fields(method: str, target: str, nonce: str | None) -> None:
    with pytest.raises(ValueError, match=r"not|nonce"):
        sign_request(_identity(), method, target, b"", now=T0, nonce=nonce)


def test_response_round_trip() -> None:
    hub = _identity()
    headers = sign_response(hub, "n" * 22, 200, BODY)
    assert headers[KEY_HEADER] == hub.key_id
    verify_response(hub.private.public_key(), "n" * 22, 200, BODY, headers)
    lowered = {name.lower(): value for name, value in headers.items()}
    verify_response(hub.private.public_key(), "n" * 22, 200, BODY, lowered)


@pytest.mark.parametrize(
    ("nonce", "status", "body"),
    [
        ("m" * 22, 200, BODY),  # a response to another request
        ("n" * 22, 403, BODY),  # another status
        ("n" * 22, 200, b"{}"),  # another body
    ],
)
def test_response_is_bound_to_its_request_status_and_body(
    nonce: str, status: int, body: bytes
) -> None:
    hub = _identity()
    headers = sign_response(hub, "n" * 22, 200, BODY)
    with pytest.raises(SignatureError) as caught:
        verify_response(hub.private.public_key(), nonce, status, body, headers)
    assert caught.value.reason == "bad signature"


def test_response_from_another_key_is_refused() -> None:
    hub, impostor = _identity(), _identity()
    pinned = hub.private.public_key()
    headers = sign_response(impostor, "n" * 22, 200, BODY)
    with pytest.raises(SignatureError) as caught:
        verify_response(pinned, "n" * 22, 200, BODY, headers)
    assert caught.value.reason == "unknown key"
    # The impostor claims the pinned key's id: its signature still fails.
    headers[KEY_HEADER] = hub.key_id
    with pytest.raises(SignatureError) as caught:
        verify_response(pinned, "n" * 22, 200, BODY, headers)
    assert caught.value.reason == "bad signature"


@pytest.mark.parametrize("name", [KEY_HEADER, SIGNATURE_HEADER])
def test_response_missing_header_is_refused(name: str) -> None:
    hub = _identity()
    headers = sign_response(hub, "n" * 22, 200, BODY)
    del headers[name]
    with pytest.raises(SignatureError) as caught:
        verify_response(hub.private.public_key(), "n" * 22, 200, BODY, headers)
    assert caught.value.reason == "missing header"
