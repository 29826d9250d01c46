"""Models a hub signs for its homes, with their lineage, and how a home judges one it pulls.

A hub model is a verdict model file (``learn.train``'s format) with a manifest: its id, when it
was made, the features version, the file's SHA-256 and size, the key id of the hub that signs
it, and its *lineage*: one token per clip it learned from, ``clip_token(home key id, clip id)``.
A token is a SHA-256 under a domain tag, so a home can find its own clips in any lineage (it
knows its key and its clip ids) and learns nothing about other homes' clips; the hub's operator,
who holds both, can answer for each. The manifest's canonical JSON is what the hub's identity
signs.

At the hub (``HubModels``), a model is offered until a clip of its lineage is withdrawn (or its
home unlinks): then it is *retired* and offered to no home again. At home (``hub.pull``), a
model is refused when its signature is not the pinned hub's, its file is not what the manifest
says, or its lineage holds a clip this home withdrew.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from hearthcam.hub.identity import HubError, Identity, key_id_of, public_key_from_b64
from hearthcam.hub.registry import (
    hub_clips,
    hub_homes,
    hub_models,
    open_hub_engine,
    reading,
    writing,
)

__all__ = [
    "HubModels",
    "ModelRefused",
    "SignedModel",
    "clip_token",
    "model_from_json",
    "model_to_json",
    "verify_model",
]

LINEAGE_DOMAIN: Final = "hearthcam-lineage-v1"
_MANIFEST_FIELDS: Final = frozenset(
    {"model_id", "created", "features_version", "sha256", "size", "hub_key_id", "lineage"}
)


class ModelRefused(HubError):
    """A model a home must not take; the message says why, for its owner."""


def clip_token(home_key_id: str, clip_id: str) -> str:
    """The pseudonymous token of a home's clip in a model's lineage."""
    return hashlib.sha256(f"{LINEAGE_DOMAIN}\n{home_key_id}\n{clip_id}".encode()).hexdigest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class SignedModel:
    """A model as a hub offers it: the manifest, the hub's signature over its canonical JSON,
    and the model file."""

    manifest: dict[str, Any]
    signature: bytes
    payload: bytes

    @property
    def model_id(self) -> str:
        return str(self.manifest.get("model_id", ""))

    @property
    def lineage(self) -> frozenset[str]:
        return frozenset(str(t) for t in self.manifest.get("lineage", ()))


def sign_model(
    identity: Identity,
    payload: bytes,
    lineage: Iterable[str],
    features_version: int,
    now: float,
) -> SignedModel:
    """Signs ``payload`` as a model learned from the clips whose tokens are ``lineage``."""
    manifest = {
        "model_id": secrets.token_hex(16),
        "created": int(now),
        "features_version": features_version,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
        "hub_key_id": identity.key_id,
        "lineage": sorted(set(lineage)),
    }
    return SignedModel(manifest, identity.sign(_canonical(manifest)), payload)


def verify_model(hub_key: Ed25519PublicKey, model: SignedModel) -> None:
    """ModelRefused unless ``model`` is whole and signed by ``hub_key``."""
    manifest = model.manifest
    if set(manifest) != _MANIFEST_FIELDS:
        raise ModelRefused("its manifest is not one hearthcam signs")
    try:
        hub_key.verify(model.signature, _canonical(manifest))
    except InvalidSignature:
        raise ModelRefused("it is not signed by the hub this home is linked to") from None
    if manifest["hub_key_id"] != key_id_of(hub_key):
        raise ModelRefused("its manifest names another hub's key")
    if (
        manifest["size"] != len(model.payload)
        or manifest["sha256"] != hashlib.sha256(model.payload).hexdigest()
    ):
        raise ModelRefused("its file is not the one the hub signed")


def model_to_json(model: SignedModel) -> dict[str, Any]:
    return {
        "manifest": model.manifest,
        "signature": base64.b64encode(model.signature).decode("ascii"),
        "payload": base64.b64encode(model.payload).decode("ascii"),
    }


def model_from_json(value: object) -> SignedModel:
    """The model a JSON object holds (its shape only; ``verify_model`` judges it)."""
    if not isinstance(value, dict) or not isinstance(value.get("manifest"), dict):
        raise ModelRefused("the hub's answer holds no model")
    try:
        signature = base64.b64decode(str(value.get("signature", "")), validate=True)
        payload = base64.b64decode(str(value.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ModelRefused("the hub's model is not in its form") from None
    return SignedModel(dict(value["manifest"]), signature, payload)


class HubModels:
    """The models a hub offers its homes, in the hub's database."""

    def __init__(self, engine: Engine, identity: Identity) -> None:
        self._engine = engine
        self._identity = identity

    @classmethod
    def from_url(cls, url: str, identity: Identity) -> HubModels:
        return cls(open_hub_engine(url, "the hub's models"), identity)

    def close(self) -> None:
        self._engine.dispose()

    def held_tokens(self) -> list[str]:
        """The lineage tokens of every clip the hub holds now."""
        query = select(hub_homes.c.public_key, hub_clips.c.clip_id).join(
            hub_homes, hub_homes.c.id == hub_clips.c.home_id
        )
        with reading(self._engine) as connection:
            rows = connection.execute(query).all()
        return [clip_token(key_id_of(public_key_from_b64(r.public_key)), r.clip_id) for r in rows]

    def publish(
        self, payload: bytes, lineage: Iterable[str], features_version: int, now: float
    ) -> SignedModel:
        """Signs and offers a model learned from the clips ``lineage`` names."""
        model = sign_model(self._identity, payload, lineage, features_version, now)
        with writing(self._engine) as connection:
            connection.execute(
                insert(hub_models).values(
                    id=model.model_id, created_at=now, manifest=_canonical(model.manifest).decode(),
                    signature=model.signature, payload=payload, retired_at=None,
                )
            )  # fmt: skip
        return model

    def latest(self) -> SignedModel | None:
        """The newest model not retired (None: none)."""
        query = (
            select(hub_models.c.manifest, hub_models.c.signature, hub_models.c.payload)
            .where(hub_models.c.retired_at.is_(None))
            .order_by(hub_models.c.created_at.desc())
            .limit(1)
        )
        with reading(self._engine) as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return SignedModel(json.loads(row.manifest), bytes(row.signature), bytes(row.payload))

    def retire_clip(self, home_id: int, clip_id: str, now: float) -> int:
        """A clip of ``home_id`` was deleted (withdrawn, unlinked, expired): every model that
        learned from it is retired. How many were."""
        with reading(self._engine) as connection:
            key = connection.execute(
                select(hub_homes.c.public_key).where(hub_homes.c.id == home_id)
            ).scalar()
        if key is None:
            return 0
        return self.retire_using([clip_token(key_id_of(public_key_from_b64(key)), clip_id)], now)

    def retire_using(self, tokens: Iterable[str], now: float) -> int:
        """Retires every model whose lineage holds any of ``tokens`` (withdrawn clips); how
        many were retired."""
        wanted = set(tokens)
        if not wanted:
            return 0
        with writing(self._engine) as connection:
            rows = connection.execute(
                select(hub_models.c.id, hub_models.c.manifest).where(
                    hub_models.c.retired_at.is_(None)
                )
            ).all()
            due = [r.id for r in rows if wanted & set(json.loads(r.manifest)["lineage"])]
            if due:
                connection.execute(
                    update(hub_models).where(hub_models.c.id.in_(due)).values(retired_at=now)
                )
        return len(due)
