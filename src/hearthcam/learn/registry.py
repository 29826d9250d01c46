"""The model registry: every trained verdict model, what made it, and whether it may be served.

A model's row records its *lineage*: the dataset manifest (every shared clip and the consent
receipt it was used under), the code version, its metrics and its parent. The registry serves
the newest *promoted* model that is not *tainted*; with none, the live path falls back to rules.

A withdrawn (or disposed) clip taints every model whose dataset contained it
(``on_withdrawn``, a ``privacy.consent.WithdrawalListener``): a tainted model is never served
again, and a retrain without the clip is queued. Model files live under ``models/`` in the data
directory and are deleted with their model when it is tainted (they were made from the clip).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from hearthcam.store.db import Store
from hearthcam.store.registry import LineageRow, ModelRow, RetrainRow

log = logging.getLogger(__name__)

MODELS_DIR = "models"
WITHDRAWN = "withdrawn"  # what a lineage says instead of a withdrawn clip's ids


class ModelStatus(enum.StrEnum):
    """Where a model stands."""

    CANDIDATE = "candidate"  # trained and evaluated, not served
    PROMOTED = "promoted"  # beat the one before it; served unless a newer promoted one exists
    RETIRED = "retired"  # rolled back or replaced by hand
    TAINTED = "tainted"  # trained with a clip its owner withdrew: never served again


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One registered model."""

    id: str
    created: float
    status: ModelStatus
    parent: str | None
    code_version: str
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    manifest_sha256: str
    reason: str

    @property
    def clips(self) -> list[str]:
        """The shared clips (share ids) its dataset contained, withdrawn ones left out."""
        return [str(c["share"]) for c in self.manifest.get("clips", []) if c["share"] != WITHDRAWN]


@dataclass(frozen=True, slots=True)
class Retrain:
    """A queued retrain."""

    id: int
    created: float
    reason: str
    excluded: list[str]


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's canonical JSON."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record(row: ModelRow) -> ModelRecord:
    return ModelRecord(
        row.id, row.created, ModelStatus(row.status), row.parent, row.code_version,
        dict(row.metrics or {}), dict(row.manifest or {}), row.manifest_sha256, row.reason,
    )  # fmt: skip


class ModelRegistry:
    """The models, model_clips and retrain_queue tables over one Store, and the model files."""

    def __init__(self, store: Store, data_dir: Path) -> None:
        self._store = store
        self.root = data_dir / MODELS_DIR

    def file_of(self, model_id: str) -> Path:
        """Where a model's file lives."""
        return self.root / f"{model_id}.bin"

    def register(
        self,
        manifest: dict[str, Any],
        metrics: dict[str, Any],
        code_version: str,
        now: float,
        parent: str | None = None,
        payload: bytes | None = None,
    ) -> ModelRecord:
        """Records a trained model (a candidate) with its lineage; stores its file if given."""
        model_id = secrets.token_hex(16)
        if payload is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            part = self.file_of(model_id).with_suffix(".part")
            part.write_bytes(payload)
            part.replace(self.file_of(model_id))
        clips = sorted({str(c["share"]) for c in manifest.get("clips", [])})
        with self._store.write_session() as session:
            session.add(
                ModelRow(
                    id=model_id, created=now, status=ModelStatus.CANDIDATE.value, parent=parent,
                    code_version=code_version, metrics=metrics, manifest=manifest,
                    manifest_sha256=manifest_digest(manifest), promoted_at=None, reason="",
                )
            )  # fmt: skip
            session.add_all(LineageRow(model_id=model_id, share_id=c) for c in clips)
        record = self.get(model_id)
        assert record is not None
        return record

    def get(self, model_id: str) -> ModelRecord | None:
        """One model."""
        with self._store.read_session() as session:
            row = session.get(ModelRow, model_id)
            return None if row is None else _record(row)

    def models(self) -> list[ModelRecord]:
        """Every model, newest first."""
        with self._store.read_session() as session:
            rows = session.scalars(select(ModelRow).order_by(ModelRow.created.desc()))
            return [_record(r) for r in rows]

    def _set(self, model_id: str, status: ModelStatus, now: float, reason: str = "") -> None:
        with self._store.write_session() as session:
            row = session.get(ModelRow, model_id)
            if row is None:
                raise KeyError(model_id)
            if row.status == ModelStatus.TAINTED.value and status is not ModelStatus.TAINTED:
                raise ValueError(f"model {model_id} is tainted and can never be served again")
            row.status, row.reason = status.value, reason
            if status is ModelStatus.PROMOTED:
                row.promoted_at = now

    def promote(self, model_id: str, now: float) -> None:
        """Serves this model from now on (the caller checked it beats the served one)."""
        self._set(model_id, ModelStatus.PROMOTED, now)

    def served(self) -> ModelRecord | None:
        """The model the live path should use: the latest promoted, untainted one (None:
        rules)."""
        query = (
            select(ModelRow)
            .where(ModelRow.status == ModelStatus.PROMOTED.value)
            .order_by(ModelRow.promoted_at.desc())
            .limit(1)
        )
        with self._store.read_session() as session:
            row = session.scalars(query).first()
            return None if row is None else _record(row)

    def rollback(self, now: float) -> ModelRecord | None:
        """Retires the served model; the one promoted before it (if any) is served again.
        Returns the model served now."""
        current = self.served()
        if current is not None:
            self._set(current.id, ModelStatus.RETIRED, now, "rolled back")
        return self.served()

    def models_using(self, share_id: str) -> list[ModelRecord]:
        """Every model whose dataset contained the shared clip."""
        with self._store.read_session() as session:
            ids = list(
                session.scalars(select(LineageRow.model_id).where(LineageRow.share_id == share_id))
            )
            rows = [session.get(ModelRow, i) for i in ids]
            return [_record(r) for r in rows if r is not None]

    def on_withdrawn(self, share_id: str) -> list[str]:
        """A clip was withdrawn: its models are tainted (never served again, files deleted) and
        one retrain without it is queued. Returns what was done, in words."""
        using = [m for m in self.models_using(share_id) if m.status is not ModelStatus.TAINTED]
        if not using:
            return []
        actions = []
        for model in using:
            self._set(model.id, ModelStatus.TAINTED, 0.0, "trained with a clip since withdrawn")
            self.file_of(model.id).unlink(missing_ok=True)
            actions.append(f"model {model.id[:8]} retired (it was trained with this clip)")
        self._forget(share_id)
        # The clip is gone from the shares, so no later dataset can hold it: the retrain needs
        # no list of what to leave out (and keeping one would keep the clip's id).
        self.queue_retrain("a clip of its dataset was withdrawn", [])
        actions.append("a retrain without this clip was queued")
        log.info("withdrawal of %s tainted %d models", share_id, len(using))
        return actions

    def _forget(self, share_id: str) -> None:
        """Removes the withdrawn clip from every lineage: a tainted model's manifest then says
        a clip was withdrawn, without which (its digest still proves what it was trained on)."""
        with self._store.write_session() as session:
            ids = list(
                session.scalars(select(LineageRow.model_id).where(LineageRow.share_id == share_id))
            )
            for row in (session.get(ModelRow, i) for i in ids):
                if row is None:
                    continue
                clips = [
                    c if c.get("share") != share_id else {"share": WITHDRAWN, "receipt": WITHDRAWN}
                    for c in dict(row.manifest or {}).get("clips", [])
                ]
                row.manifest = {**dict(row.manifest or {}), "clips": clips}
            session.execute(delete(LineageRow).where(LineageRow.share_id == share_id))

    def queue_retrain(self, reason: str, excluded: list[str], now: float = 0.0) -> None:
        """Asks for a retrain that leaves ``excluded`` clips out."""
        with self._store.write_session() as session:
            session.add(RetrainRow(created=now, reason=reason, excluded=excluded))

    def retrains(self) -> list[Retrain]:
        """Queued retrains, oldest first."""
        with self._store.read_session() as session:
            rows = session.scalars(select(RetrainRow).order_by(RetrainRow.id))
            return [Retrain(r.id, r.created, r.reason, list(r.excluded or [])) for r in rows]

    def answer_retrains(self, ids: list[int]) -> None:
        """Removes queued retrains that a finished training run answered."""
        if ids:
            with self._store.write_session() as session:
                session.execute(delete(RetrainRow).where(RetrainRow.id.in_(ids)))

    def excluded(self) -> set[str]:
        """Every clip a queued or past retrain must leave out (withdrawn clips)."""
        return {c for r in self.retrains() for c in r.excluded}
