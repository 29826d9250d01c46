"""The learning benchmark's clip generator: ground truth by its rules, deterministic frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam_bench import learning_imagery as img
from hearthcam_bench import learning_scenes as ls

A, V = ls.Action, ReviewVerdict


def spec(action: ls.Action, night: bool = False, camera: ls.Camera = ls.Camera.DOOR) -> ls.ClipSpec:
    return ls.ClipSpec("t", "h00", camera, action, night, ls.EPOCH + 12 * 3600, 3.0, 5)


@pytest.mark.parametrize(
    ("action", "night", "expected"),
    [
        (A.APPROACH, False, V.THREAT),
        (A.APPROACH, True, V.THREAT),
        (A.PASS, False, V.BENIGN_PERSON),
        (A.PASS, True, V.THREAT),
        (A.PASSERS, False, V.BENIGN_PERSON),
        (A.PASSERS, True, V.THREAT),
        (A.CAT, True, V.PET),
        (A.DOG, False, V.PET),
        (A.TRUCK, False, V.VEHICLE),
        (A.RAMP, False, V.FALSE_ALARM),
        (A.FLASH, True, V.FALSE_ALARM),
        (A.SHADOW, False, V.FALSE_ALARM),
        (A.WIND, False, V.FALSE_ALARM),
    ],
)
def test_truth_follows_the_documented_rules(
    action: ls.Action, night: bool, expected: ReviewVerdict
) -> None:
    assert ls.truth(spec(action, night)) is expected


def test_the_plan_is_deterministic_for_a_seed_and_differs_across_seeds() -> None:
    first, again, other = ls.plan(5, 8, seed=3), ls.plan(5, 8, seed=3), ls.plan(5, 8, seed=4)
    assert first == again
    assert first != other
    assert len(first) == 40
    assert len({s.id for s in first}) == 40
    assert {s.household for s in first} == {f"h{i:02d}" for i in range(5)}


def test_the_plan_only_uses_each_cameras_own_actions_and_keeps_night_at_night() -> None:
    for s in ls.plan(12, 10, seed=2):
        assert s.action in ls.MIX[s.camera]
        hour = (s.wall_start - ls.EPOCH) % 86_400 / 3600
        assert (hour >= 22 or hour < 5) if s.night else (8 <= hour < 18)
        assert 0 <= (s.wall_start - ls.EPOCH) // 86_400 < ls.DAYS


def test_rendering_is_deterministic_and_sized() -> None:
    clip = spec(A.CAT)
    first, again = list(ls.render(clip)), list(ls.render(clip))
    assert len(first) == round(clip.seconds * ls.FPS)
    assert first[0].shape == (img.SIZE[1], img.SIZE[0], 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    reseeded = list(ls.render(dataclasses.replace(clip, seed=6)))
    assert not np.array_equal(first[0], reseeded[0])


def test_night_is_grey_and_darker_than_day() -> None:
    day = next(ls.render(spec(A.RAMP)))
    night = next(ls.render(spec(A.RAMP, night=True)))
    assert np.array_equal(night[..., 0], night[..., 1])
    assert np.array_equal(night[..., 1], night[..., 2])
    assert night.mean() < 0.6 * day.mean()


def _changed_columns(frame: np.ndarray, camera: ls.Camera) -> np.ndarray:
    diff = np.abs(frame.astype(np.int16) - ls.background(camera).astype(np.int16)).max(-1)
    return np.nonzero((diff > 60).any(axis=0))[0] / img.SIZE[0]


@pytest.mark.parametrize("camera", list(ls.Camera))
def test_the_approaching_person_ends_at_the_door_and_the_passer_stays_above_it(
    camera: ls.Camera,
) -> None:
    x0, y0, x1, _ = ls.DOOR_ZONES[camera]
    last = list(ls.render(spec(A.APPROACH, camera=camera)))[-1]
    columns = _changed_columns(last, camera)
    assert x0 - 0.1 <= np.median(columns) <= x1 + 0.1
    for frame in ls.render(spec(A.PASS, camera=camera)):
        diff = np.abs(frame.astype(np.int16) - ls.background(camera).astype(np.int16)).max(-1)
        rows = np.nonzero((diff > 60).any(axis=1))[0]
        assert not len(rows) or rows.max() < y0 * img.SIZE[1]


def test_a_light_change_moves_no_object_only_brightness() -> None:
    frames = list(ls.render(spec(A.RAMP)))
    means = [f.mean() for f in frames]
    assert min(means) < 0.7 * max(means)
    base = ls.background(ls.Camera.DOOR).astype(np.float32)
    middle = frames[len(frames) // 2].astype(np.float32)
    # A uniform gain: the darkest frame is the background scaled, not something new in it.
    gain = middle.sum() / base.sum()
    assert np.abs(middle - base * gain).mean() < 6
