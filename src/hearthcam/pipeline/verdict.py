"""The verdict component: turns an event's tracks into threat / pet / vehicle / motion.

``RuleVerdict`` is the built-in rule set. A learned model replaces it by implementing the same
``decide`` method (see ``hearthcam.pipeline.events.VerdictModel``); the pipeline never changes.
The rules lean one way on purpose: an animal must never be called a threat, so a track counts
as a person only when its person votes clearly outweigh its animal votes and it was seen on
several frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hearthcam.labels import ANIMAL_LABELS, PERSON_LABELS, VEHICLE_LABELS
from hearthcam.types import Event, TrackSummary, Verdict


@dataclass(frozen=True)
class RuleVerdict:
    """Rules: a confirmed person is a threat, else an animal a pet, else a moving vehicle."""

    person_min_score: float = 0.5
    person_min_hits: int = 3
    person_margin: float = 2.0
    animal_min_hits: int = 2
    vehicle_min_travel: float = 0.03

    def label(self, track: TrackSummary) -> str:
        """The label the rules believe: 'person' only when it beats any animal by the margin."""
        if track.label not in PERSON_LABELS:
            return track.label
        animals = sorted(((track.vote(a), a) for a in ANIMAL_LABELS), reverse=True)
        best_vote, best_animal = animals[0]
        if best_vote > 0 and track.vote(track.label) < self.person_margin * best_vote:
            return best_animal
        return track.label

    def parked(self, track: TrackSummary) -> bool:
        """A vehicle that hardly moved: found whenever motion nearby is checked, never an event
        of its own (the event page shows it apart)."""
        return self.label(track) in VEHICLE_LABELS and track.travel < self.vehicle_min_travel

    def decide(
        self, tracks: Sequence[TrackSummary], event: Event | None = None
    ) -> tuple[Verdict, float]:
        """The verdict and its confidence (0..1) for an event with these tracks (the rules
        need nothing else of the event)."""
        labelled = [(self.label(t), t) for t in tracks]
        people = [
            t
            for label, t in labelled
            if label in PERSON_LABELS
            and t.hits >= self.person_min_hits
            and t.best_score >= self.person_min_score
        ]
        if people:
            return Verdict.THREAT, max(t.best_score for t in people)
        animals = [
            t for label, t in labelled if label in ANIMAL_LABELS and t.hits >= self.animal_min_hits
        ]
        if animals:
            return Verdict.PET, max(t.best_score for t in animals)
        # A parked car is found whenever motion nearby is checked; only a moving one is an event.
        vehicles = [t for label, t in labelled if label in VEHICLE_LABELS and not self.parked(t)]
        if vehicles:
            return Verdict.VEHICLE, max(t.best_score for t in vehicles)
        return Verdict.MOTION, 0.0

    def labels(self, tracks: Sequence[TrackSummary]) -> tuple[str, ...]:
        """The distinct labels of tracks that count (seen enough; vehicles only if moving)."""
        found = set()
        for track in tracks:
            label = self.label(track)
            if track.hits < self.animal_min_hits:
                continue
            if self.parked(track):
                continue
            found.add(label)
        return tuple(sorted(found))
