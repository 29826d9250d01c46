"""Face verification figures from descriptors: pair distances, true-accept rate at a false-accept
rate, and the rates at a fixed acceptance distance. Pure: NumPy in, numbers out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Pairs:
    """Distances of every pair of faces of the same person, and of different people."""

    genuine: NDArray[np.float64]
    impostor: NDArray[np.float64]


def pairs(descriptors: Sequence[NDArray[np.float32]], labels: Sequence[str]) -> Pairs:
    """Euclidean distances of all pairs, split by whether both faces are the same person."""
    genuine: list[float] = []
    impostor: list[float] = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        d = float(np.linalg.norm(descriptors[i] - descriptors[j]))
        (genuine if labels[i] == labels[j] else impostor).append(d)
    return Pairs(np.array(genuine), np.array(impostor))


def cross_pairs(
    enrolled: Sequence[NDArray[np.float32]],
    probes: Sequence[NDArray[np.float32]],
    labels: Sequence[str],
) -> NDArray[np.float64]:
    """Genuine distances from each enrolled face to the probes of the same person (another
    picture: a probe of the very same picture is left out)."""
    found = [
        float(np.linalg.norm(enrolled[i] - probes[j]))
        for i, j in itertools.permutations(range(len(labels)), 2)
        if labels[i] == labels[j]
    ]
    return np.array(found)


def threshold_at_far(impostor: NDArray[np.float64], far: float) -> float:
    """The largest acceptance distance whose false-accept rate is at most ``far`` (accepting
    ``d < threshold``); with no impostor pairs, infinity."""
    if not len(impostor):
        return float("inf")
    ordered = np.sort(impostor)
    allowed = int(np.floor(far * len(ordered)))  # impostor pairs that may be accepted
    return float(ordered[allowed]) if allowed < len(ordered) else float("inf")


def accept_rate(distances: NDArray[np.float64], threshold: float, inclusive: bool = False) -> float:
    """The share of ``distances`` under the threshold (at or under, with ``inclusive``)."""
    if not len(distances):
        return float("nan")
    hit = distances <= threshold if inclusive else distances < threshold
    return float(np.mean(hit))


def tar_at_far(found: Pairs, far: float) -> float:
    """True-accept rate at the threshold that keeps the false-accept rate at most ``far``."""
    return accept_rate(found.genuine, threshold_at_far(found.impostor, far))
