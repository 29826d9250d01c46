"""A home pulling its hub's newest model: verified, checked against its withdrawals, judged on
its own annotations, and served only through the promotion gate.

``pull_model`` refuses a model that is not signed by the hub this home pinned, whose file is not
the one signed, or whose lineage holds a clip this home withdrew from the hub (the tokens of its
withdrawn deliveries, ``hub.models.clip_token``). A model it takes must load as a verdict model
of this version's features. It is judged like a model trained here (``learn.evaluate.beats``
against the model served now, or the rules) on every event this home's annotators labelled: none
of them can be in the hub's lineage, since a clip shared with the hub is never annotated here.
It is registered as a candidate, with the home's own clips found in its lineage as its lineage
here (so withdrawing one of them later taints it, as for a model trained here), and promoted
only if it beats the served one. With no annotations here to judge it, it stays a candidate: the
owner may promote it by hand (``hearthcam models promote``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hearthcam.hub.client import HubClient
from hearthcam.hub.models import ModelRefused, SignedModel, clip_token, verify_model
from hearthcam.learn.evaluate import beats, camera_days, evaluate, rules_predictions
from hearthcam.learn.export import code_version
from hearthcam.learn.registry import ModelRegistry
from hearthcam.learn.retrain import examples, served_baseline, split_key
from hearthcam.pipeline.features import FEATURES_VERSION, feature_matrix
from hearthcam.pipeline.learned import ModelFileError, VerdictNet
from hearthcam.store.db import Store
from hearthcam.store.hub_deliveries import DeliveryState, HubDeliveryStore
from hearthcam.store.shares import ShareStore

#: Deliveries whose clip this home withdrew from the hub (or the hub no longer holds).
WITHDRAWN = (DeliveryState.WITHDRAWING, DeliveryState.DELETED, DeliveryState.GONE)


class Pulled(enum.StrEnum):
    """What became of a pull."""

    NONE = "none"  # the hub offers no model
    KNOWN = "known"  # registered here before
    REFUSED = "refused"  # unsigned, damaged, tainted, or not a model this version runs
    CANDIDATE = "candidate"  # registered, not served
    PROMOTED = "promoted"  # registered and served from now on


@dataclass(frozen=True, slots=True)
class PullOutcome:
    """A pull's result: what became of it, why in words, and the model's id here (if taken)."""

    result: Pulled
    reason: str
    model_id: str | None = None


def _registered(registry: ModelRegistry, hub_model_id: str) -> str | None:
    for record in registry.models():
        if record.manifest.get("hub", {}).get("model_id") == hub_model_id:
            return record.id
    return None


def pull_model(
    store: Store,
    data_dir: Path,
    client: HubClient,
    home_key_id: str,
    hub_url: str,
    now: float,
) -> PullOutcome:
    """Pulls, checks, judges and registers the hub's newest model (see the module docstring).
    The hub's key is the one ``client`` pinned."""
    model = client.latest_model()
    if model is None:
        return PullOutcome(Pulled.NONE, "the hub offers no model")
    hub_key = client.hub_key
    if hub_key is None:
        return PullOutcome(Pulled.REFUSED, "no hub key is pinned to check it against")
    registry = ModelRegistry(store, data_dir)
    try:
        verify_model(hub_key, model)
        known = _registered(registry, model.model_id)
        if known is not None:
            return PullOutcome(Pulled.KNOWN, "registered here before", known)
        own = _own_clips(store, home_key_id, model)
        net = VerdictNet.from_bytes(model.payload)
    except ModelRefused as error:
        return PullOutcome(Pulled.REFUSED, str(error))
    except ModelFileError as error:
        return PullOutcome(Pulled.REFUSED, f"it is not a model this hearthcam runs: {error}")
    metrics, promote, why = _judge(store, data_dir, registry, net)
    shares = ShareStore(store)
    clips = [
        {"share": share_id, "receipt": record.receipt_sha256 if record else ""}
        for share_id in own
        for record in [shares.get(share_id)]
    ]
    manifest: dict[str, Any] = {
        "kind": "verdict",
        "features_version": FEATURES_VERSION,
        "source": "hub",
        "hub": {
            "url": hub_url,
            "model_id": model.model_id,
            "created": model.manifest["created"],
            "lineage": len(model.lineage),
            "signature": model.signature.hex(),
        },
        "clips": clips,
    }
    record = registry.register(manifest, metrics, code_version(), now, None, model.payload)
    if promote:
        registry.promote(record.id, now)
        return PullOutcome(Pulled.PROMOTED, why, record.id)
    return PullOutcome(Pulled.CANDIDATE, why, record.id)


def _own_clips(store: Store, home_key_id: str, model: SignedModel) -> list[str]:
    """The share ids of this home's clips in the model's lineage; ModelRefused when one of them
    was withdrawn."""
    lineage = model.lineage
    own, withdrawn = [], 0
    for delivery in HubDeliveryStore(store).in_state(*DeliveryState):
        if clip_token(home_key_id, delivery.clip_id) not in lineage:
            continue
        if delivery.state in WITHDRAWN:
            withdrawn += 1
        else:
            own.append(delivery.share_id)
    if withdrawn:
        clips = "clip" if withdrawn == 1 else "clips"
        raise ModelRefused(f"it learned from {withdrawn} {clips} you withdrew from the hub")
    return sorted(own)


def _judge(
    store: Store, data_dir: Path, registry: ModelRegistry, net: VerdictNet
) -> tuple[dict[str, Any], bool, str]:
    """The model against the one served now (or the rules) on this home's annotated events."""
    held = examples(store, data_dir, split_key(data_dir))
    if not held:
        why = "no annotated events here to judge it: not served unless promoted by hand"
        return {"decision": why, "test_events": 0}, False, why
    events = [e.event for e in held]
    truth = [e.verdict for e in held]
    days = camera_days(events)
    rows = feature_matrix(events)
    candidate = evaluate(truth, net.predict(rows), days)
    baseline_id, baseline_net = served_baseline(registry)
    said = rules_predictions(events) if baseline_net is None else baseline_net.predict(rows)
    baseline = evaluate(truth, said, days)
    promote, why = beats(candidate, baseline)
    metrics = {"candidate": candidate.as_dict(), "baseline": baseline.as_dict(),
               "baseline_model": baseline_id, "threat_threshold": net.threshold,
               "decision": why, "train_events": 0, "test_events": len(held)}  # fmt: skip
    return metrics, promote, why
