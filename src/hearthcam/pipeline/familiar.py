"""The verdict with familiar faces: a threat whose people were all recognised is "familiar".

Wraps whatever verdict model the pipeline has (the rules or the served model's slot, which
swaps its model inside): only a threat can become familiar, and only when the ``FaceWatch``
recognised every person track of the event confidently; an uncertain face changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hearthcam.pipeline.events import VerdictModel
from hearthcam.types import Event, FaceWatch, TrackSummary, Verdict


class FamiliarVerdict:
    """A VerdictModel: ``inner``'s verdict, with recognised household members made familiar."""

    def __init__(self, inner: VerdictModel, watch: FaceWatch) -> None:
        self.inner = inner
        self._watch = watch

    def decide(
        self, tracks: Sequence[TrackSummary], event: Event | None = None
    ) -> tuple[Verdict, float]:
        """``inner``'s verdict; FAMILIAR for a threat whose people were all recognised."""
        verdict, score = self.inner.decide(tracks, event)
        seen = None if event is None else replace(event, tracks=tuple(tracks))
        if verdict is Verdict.THREAT and seen is not None and self._watch.familiar(seen):
            return Verdict.FAMILIAR, score
        return verdict, score

    def labels(self, tracks: Sequence[TrackSummary]) -> tuple[str, ...]:
        """The labels ``inner`` reports."""
        return self.inner.labels(tracks)
