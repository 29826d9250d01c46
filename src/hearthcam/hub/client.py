"""A home's client of a review hub: link with a one-time code, say hello, unlink, check the log.

Every request is signed with the home's identity, and every answer must be signed by the hub's
key. The home learns that key from the answer to its first link (trust on first use): the code,
given out of band, shows the hub meant to link this home, and the fingerprint the client computes
from the pinned key is what the owner compares with the one the hub's operator shows. From then
on an answer signed by any other key raises SignatureError.

The hub's view log is signed by another key of the hub's, its ``AuditKey``; the link answer
names its public half (``Linked.log_key_b64``), under the signature of the key pinned. Each
``log_round`` fetches the hub's newest checkpoint, proofs and this home's entries, and leaves
judging them to ``hub.monitor.check_reply``.

A home sends a clip (``send_clip``) under its own pseudonymous id with the digest of its consent
receipt, withdraws it (``withdraw_clip``) and lists what the hub holds (``clips``). Each deletion
(a withdrawal, or every clip at ``unlink``) comes back as a ``DeletionReceipt`` that must be
signed by the pinned hub key, for the home to keep.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.errors import HearthcamError
from hearthcam.hub.clips import (
    ClipFeatures,
    DeletionReceipt,
    is_clip_id,
    receipt_from_json,
    verify_receipt,
)
from hearthcam.hub.identity import (
    HubError,
    Identity,
    b64_field,
    encode_b64,
    fingerprint_of,
    public_key_from_b64,
    raw_public,
)
from hearthcam.hub.models import SignedModel, model_from_json
from hearthcam.hub.monitor import Finding, HomeLogState, HubLogReply, check_reply
from hearthcam.hub.signing import SignatureError, new_nonce, sign_request, verify_response
from hearthcam.hub.terms import HubTerms, TermsError
from hearthcam.viewlog.signing import Checkpoint

__all__ = ["HeldClip", "HubClient", "HubRefused", "HubUnreachable", "Linked"]

# The hub's routes (hub.server); kept here too so a home never imports the hub's server side.
LINK_PATH: Final = "/hub/v1/link"
HELLO_PATH: Final = "/hub/v1/hello"
UNLINK_PATH: Final = "/hub/v1/unlink"
LOG_PATH: Final = "/hub/v1/log"
CLIPS_PATH: Final = "/hub/v1/clips"
MODELS_PATH: Final = "/hub/v1/models/latest"


class HubRefused(HubError):
    """The hub answered with an error: its HTTP ``status`` and the ``detail`` it gave."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"the hub refused ({status}): {detail}")


class HubUnreachable(HubError):
    """No answer came from the hub's address (refused, timed out, no such host)."""


@dataclass(frozen=True, slots=True)
class Linked:
    """A link made: the home's id at the hub, and the hub's key as pinned and as shown.

    ``log_key_b64`` is the public key that signs the hub's view log checkpoints (what
    ``HubClient.log_round`` checks them against); None when the hub keeps no view log.
    ``terms``: what its operator states for shared clips (None: it states none, and a home
    cannot share clips with it)."""

    home_id: int
    hub_key_b64: str
    hub_fingerprint: str
    log_key_b64: str | None
    terms: HubTerms | None = None


@dataclass(frozen=True, slots=True)
class HeldClip:
    """A clip the hub holds for this home, as it lists it."""

    clip_id: str
    size: int
    keep_until: int


@dataclass(frozen=True, slots=True)
class RefusedClip:
    """A clip of this home the hub's own checks refused: why, and its deletion receipt."""

    clip_id: str
    reason: str
    receipt: DeletionReceipt | None


class HubClient:
    """Talks to the hub at ``url`` as ``identity``; ``hub_key`` is the hub's pinned key, None
    until the first ``link`` pins it. Close it (or use it in ``with``) when done."""

    def __init__(
        self,
        url: str,
        identity: Identity,
        hub_key: Ed25519PublicKey | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._identity = identity
        self._hub_key = hub_key
        self._http = httpx.Client(base_url=url, timeout=timeout)

    @property
    def hub_key(self) -> Ed25519PublicKey | None:
        """The hub's key this client checks answers against (None before the first link)."""
        return self._hub_key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self,
        _kind: type[BaseException] | None,
        _error: BaseException | None,
        _trace: TracebackType | None,
    ) -> None:
        self.close()

    def link(self, code: str, name: str) -> Linked:
        """Links this home with the one-time ``code`` under ``name``; pins the hub's key.

        With no key pinned yet, a refusal cannot be checked (there is no key to check it
        against) and raises HubRefused as it came; once pinned, every answer is checked."""
        payload = {"code": code, "public_key": self._identity.public_b64, "name": name}
        response, nonce = self._send("POST", LINK_PATH, json.dumps(payload).encode("utf-8"))
        pinned = self._hub_key
        if pinned is not None:
            _verify(pinned, nonce, response)
        answer = _answer(response)
        try:
            home_id = int(answer["home_id"])
            hub_key_b64 = str(answer["hub_key"])
            stated = str(answer["hub_fingerprint"])
        except (KeyError, TypeError, ValueError):
            raise HubError(f"the hub's link answer is not one: {response.text[:200]!r}") from None
        log_key_b64 = answer.get("log_key")
        if log_key_b64 is not None and not isinstance(log_key_b64, str):
            raise HubError(f"the hub's link answer is not one: {response.text[:200]!r}")
        hub_key = public_key_from_b64(hub_key_b64)
        if pinned is None:
            # Signed by the key it names: the hub holds that key.
            _verify(hub_key, nonce, response)
        elif raw_public(hub_key) != raw_public(pinned):
            raise HubError("the hub named another key than the one pinned for it")
        fingerprint = fingerprint_of(hub_key)
        if stated != fingerprint:
            raise HubError(f"the hub showed the fingerprint {stated!r}, its key has {fingerprint}")
        if log_key_b64 is not None:  # checked only now, under the hub's signature
            log_key_b64 = encode_b64(raw_public(public_key_from_b64(log_key_b64)))
        stated_terms = answer.get("terms")
        try:
            terms = None if stated_terms is None else HubTerms.from_json(stated_terms)
        except TermsError as error:
            raise HubError(f"the hub's terms are not whole: {error}") from None
        self._hub_key = hub_key
        return Linked(home_id, encode_b64(raw_public(hub_key)), fingerprint, log_key_b64, terms)

    def hello(self) -> int:
        """This home's id at the hub, from a signed round trip (the link still stands)."""
        answer = self._checked("GET", HELLO_PATH, b"")
        try:
            return int(answer["home_id"])
        except (KeyError, TypeError, ValueError):
            raise HubError(f"the hub's hello answer is not one: {answer!r:.200}") from None

    def unlink(self) -> list[DeletionReceipt]:
        """Ends this home's link: the hub deletes every clip this home sent, then refuses its key
        from now on. The receipts of those deletions, each checked against the pinned key
        (SignatureError for one that is not signed by it)."""
        answer = self._checked("POST", UNLINK_PATH, b"")
        listed = answer.get("receipts")
        if answer.get("unlinked") is not True or not isinstance(listed, list):
            raise HubError(f"the hub's unlink answer is not one: {answer!r:.200}")
        return [self._receipt(item, None) for item in listed]

    def send_clip(
        self,
        clip_id: str,
        data: bytes,
        receipt_digest: str,
        keep_until: int,
        features: ClipFeatures | None = None,
    ) -> str:
        """Sends ``data`` as this home's clip ``clip_id`` (its pseudonymous id: 1-64 of
        ``A-Z a-z 0-9 _ -``), kept until ``keep_until`` (unix s) under the consent receipt whose
        SHA-256 is ``receipt_digest``; the clip's SHA-256, as the hub confirmed it.

        ``features``: what the home's model read from the clip's event, for the hub's training.
        HubRefused 409 for an id sent before, 413 for a clip too large."""
        if not is_clip_id(clip_id):
            raise HubError(f"not a clip id: {clip_id[:80]!r}")
        query = f"receipt={receipt_digest}&keep_until={int(keep_until)}"
        if features is not None:
            query += f"&features={quote(features.text(), safe=':,')}"
        answer = self._checked(
            "PUT", f"{CLIPS_PATH}/{clip_id}?{query}", data, "application/octet-stream"
        )
        sha256 = hashlib.sha256(data).hexdigest()
        if answer != {"clip_id": clip_id, "sha256": sha256, "size": len(data)}:
            raise HubError(f"the hub kept something else than the clip sent: {answer!r:.200}")
        return sha256

    def withdraw_clip(self, clip_id: str) -> DeletionReceipt:
        """Has the hub delete this home's clip ``clip_id``; its receipt, checked against the
        pinned key (SignatureError if it is not signed by it, HubError if it names another
        clip). HubRefused 404 if the hub holds no such clip for this home."""
        if not is_clip_id(clip_id):
            raise HubError(f"not a clip id: {clip_id[:80]!r}")
        answer = self._checked("DELETE", f"{CLIPS_PATH}/{clip_id}", b"")
        return self._receipt(answer.get("receipt"), clip_id)

    def clips(self) -> list[HeldClip]:
        """The clips the hub holds for this home."""
        answer = self._checked("GET", CLIPS_PATH, b"")
        listed = answer.get("clips")
        if not isinstance(listed, list):
            raise HubError(f"the hub's clip list is not one: {answer!r:.200}")
        held = []
        for item in listed:
            if not isinstance(item, dict):
                raise HubError(f"the hub's clip list is not one: {item!r:.200}")
            clip_id, size, keep_until = (item.get(k) for k in ("clip_id", "size", "keep_until"))
            if not (
                isinstance(clip_id, str)
                and is_clip_id(clip_id)
                and isinstance(size, int)
                and isinstance(keep_until, int)
            ):
                raise HubError(f"the hub's clip list is not one: {item!r:.200}")
            held.append(HeldClip(clip_id, size, keep_until))
        return held

    def refused_clips(self) -> list[RefusedClip]:
        """This home's clips the hub's own checks refused (and deleted), with why and the
        deletion receipt, checked against the pinned key."""
        answer = self._checked("GET", CLIPS_PATH, b"")
        listed = answer.get("refused", [])
        if not isinstance(listed, list):
            raise HubError(f"the hub's clip list is not one: {answer!r:.200}")
        refused = []
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
                raise HubError(f"the hub's clip list is not one: {item!r:.200}")
            clip_id = str(item.get("clip_id", ""))
            receipt = item.get("receipt")
            checked = None if receipt is None else self._receipt(receipt, clip_id)
            refused.append(RefusedClip(clip_id, item["reason"], checked))
        return refused

    def latest_model(self) -> SignedModel | None:
        """The newest model the hub offers (None: it offers none), as it sent it: its signature
        and lineage are ``hub.pull``'s to judge."""
        try:
            answer = self._checked("GET", MODELS_PATH, b"")
        except HubRefused as error:
            if error.status == 404 and error.detail == "no model":
                return None
            raise
        return model_from_json(answer.get("model"))

    def _receipt(self, value: object, clip_id: str | None) -> DeletionReceipt:
        """The deletion receipt ``value`` holds, signed by the pinned key and naming
        ``clip_id`` (any clip when None)."""
        receipt = receipt_from_json(value)
        pinned = self._hub_key
        if pinned is None or not verify_receipt(pinned, receipt):
            raise SignatureError("bad signature", "a deletion receipt not signed by the hub")
        if clip_id is not None and receipt.clip_id != clip_id:
            raise HubError(f"the hub's receipt is for clip {receipt.clip_id!r}, not {clip_id!r}")
        return receipt

    def log_round(
        self, hub_log_key: Ed25519PublicKey, state: HomeLogState, home_id: int
    ) -> tuple[HomeLogState, list[Finding]]:
        """One round of checking the hub's view log: fetches what the hub shows this home now,
        from the checkpoint ``state`` kept, and checks it (``monitor.check_reply``) against
        ``hub_log_key`` (``Linked.log_key_b64``). Returns the state to keep and what was found;
        HubError for an answer that is not a log reply, HubRefused for a refusal (404: the hub
        keeps no view log)."""
        kept = 0 if state.checkpoint is None else state.checkpoint.size
        answer = self._checked("GET", f"{LOG_PATH}?kept={kept}", b"")
        return check_reply(hub_log_key, home_id, state, _log_reply(answer))

    def consistency(self, first: int, second: int) -> tuple[bytes, ...]:
        """The hub's proof that its log of ``first`` entries is a prefix of its log of
        ``second`` (gossip: comparing a checkpoint another home kept with this home's)."""
        answer = self._checked("GET", f"{LOG_PATH}/consistency?first={first}&second={second}", b"")
        try:
            return _hashes(_field(answer, "the answer", "proof"), "proof")
        except _NotAReply as error:
            raise HubError(f"the hub's consistency answer is not one: {error}") from None

    def _checked(
        self, method: str, path: str, body: bytes, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """The answer to a request to a linked hub, its signature checked against the pin."""
        pinned = self._hub_key
        if pinned is None:
            raise HubError("no hub key is pinned: link first")
        response, nonce = self._send(method, path, body, content_type)
        _verify(pinned, nonce, response)
        return _answer(response)

    def _send(
        self, method: str, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[httpx.Response, str]:
        """Sends a signed request; the response, and the nonce its signature must cover."""
        request = self._http.build_request(method, path, content=body)
        if body:
            request.headers["Content-Type"] = content_type
        # What the hub sees as the target: the path and query as they go on the wire.
        target = request.url.raw_path.decode("ascii")
        nonce = new_nonce()
        request.headers.update(
            sign_request(self._identity, method, target, body, time.time(), nonce)
        )
        try:
            return self._http.send(request), nonce
        except httpx.HTTPError as error:
            raise HubUnreachable(
                f"cannot reach the hub at {self._http.base_url}: {error}"
            ) from error


def _verify(hub_key: Ed25519PublicKey, nonce: str, response: httpx.Response) -> None:
    """SignatureError unless ``hub_key`` signed ``response`` to the request with ``nonce``."""
    verify_response(hub_key, nonce, response.status_code, response.content, response.headers)


class _NotAReply(HearthcamError, ValueError):
    """A field of a log reply that is missing or not of its kind."""


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _NotAReply(f"{name} is not a whole number")
    return value


def _bytes(value: object, name: str) -> bytes:
    return b64_field(value, name, _NotAReply)


def _hashes(value: object, name: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise _NotAReply(f"{name} is not a list")
    return tuple(_bytes(item, f"{name}[{i}]") for i, item in enumerate(value))


def _field(value: object, name: str, key: str) -> object:
    if not isinstance(value, dict):
        raise _NotAReply(f"{name} is not an object")
    if key not in value:
        raise _NotAReply(f"{name} has no {key}")
    return value[key]


def _log_reply(answer: dict[str, Any]) -> HubLogReply:
    """The hub's log answer as a HubLogReply; HubError unless every field has its kind.

    Only the shape is checked here: whether the checkpoint, proofs and entries hold is
    ``check_reply``'s to say, as findings."""
    try:
        head = _field(answer, "the answer", "checkpoint")
        checkpoint = Checkpoint(
            size=_whole(_field(head, "checkpoint", "size"), "checkpoint.size"),
            root=_bytes(_field(head, "checkpoint", "root"), "checkpoint.root"),
            time_ms=_whole(_field(head, "checkpoint", "time_ms"), "checkpoint.time_ms"),
            signature=_bytes(_field(head, "checkpoint", "signature"), "checkpoint.signature"),
        )
        consistency = _hashes(_field(answer, "the answer", "consistency"), "consistency")
        listed = _field(answer, "the answer", "entries")
        if not isinstance(listed, list):
            raise _NotAReply("entries is not a list")
        entries = tuple(
            (
                _whole(_field(item, f"entries[{i}]", "index"), f"entries[{i}].index"),
                _bytes(_field(item, f"entries[{i}]", "bytes"), f"entries[{i}].bytes"),
                _hashes(_field(item, f"entries[{i}]", "proof"), f"entries[{i}].proof"),
            )
            for i, item in enumerate(listed)
        )
    except _NotAReply as error:
        raise HubError(f"the hub's log answer is not one: {error}") from None
    return HubLogReply(checkpoint, consistency, entries)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a hub answered; HubRefused for an error status."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not 200 <= response.status_code < 300:
        detail = data.get("detail") if isinstance(data, dict) else None
        shown = detail if isinstance(detail, str) else response.text[:200]
        raise HubRefused(response.status_code, shown)
    if not isinstance(data, dict):
        raise HubError(f"the hub answered something not a JSON object: {response.text[:200]!r}")
    return data
