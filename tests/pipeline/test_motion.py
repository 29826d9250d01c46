"""Tests of the motion detector on synthetic grey scenes: squares, masks, light changes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from hearthcam.config import MotionConfig, Polygon
from hearthcam.pipeline.motion import MotionDetector, polygon_mask
from hearthcam.types import BGRImage

W, H = 640, 360
Box = tuple[int, int, int, int]


def bgr(gray: NDArray[np.floating] | NDArray[np.uint8]) -> BGRImage:
    """A BGR uint8 image from a grey float image (clipped to 0..255)."""
    g = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def patches(
    rng: np.random.Generator, width: int, height: int, lo: float, hi: float, cell: int = 16
) -> NDArray[np.float64]:
    """A scene of flat rectangles of random brightness (walls, furniture, plants)."""
    cells = rng.uniform(lo, hi, (height // cell + 1, width // cell + 1))
    return np.asarray(np.kron(cells, np.ones((cell, cell)))[:height, :width], dtype=np.float64)


def noisy(rng: np.random.Generator, scene: NDArray[np.float64], sigma: float = 3.0) -> BGRImage:
    return bgr(scene + rng.normal(0.0, sigma, scene.shape))


def with_square(scene: NDArray[np.float64], box: Box, value: float = 235.0) -> NDArray[np.float64]:
    x0, y0, x1, y1 = box
    out = scene.copy()
    out[y0:y1, x0:x1] = value
    return out


def contains(
    outer: Sequence[int] | NDArray[np.int32], inner: Sequence[int], slack: int = 0
) -> bool:
    """True if box ``outer`` contains ``inner`` (allowing ``slack`` pixels short)."""
    return bool(
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[2] >= inner[2] - slack
        and outer[3] >= inner[3] - slack
    )


def grown(box: Box, margin: int) -> Box:
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def warmed_up(
    cfg: MotionConfig,
    scene: NDArray[np.float64],
    rng: np.random.Generator,
    frames: int = 5,
) -> MotionDetector:
    """A detector that has seen ``frames`` still frames of the scene."""
    detector = MotionDetector(cfg, scene.shape[1], scene.shape[0])
    for _ in range(frames):
        assert not detector.detect(noisy(rng, scene)).moving
    return detector


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def scene(rng: np.random.Generator) -> NDArray[np.float64]:
    return patches(rng, W, H, 40, 120)


def test_static_noisy_scene_is_still(rng: np.random.Generator, scene: NDArray[np.float64]) -> None:
    detector = MotionDetector(MotionConfig(), W, H)
    first = detector.detect(noisy(rng, scene))
    assert not first.moving
    assert first.boxes.shape == (0, 4)
    assert first.area_ratio == 0.0
    for _ in range(30):
        result = detector.detect(noisy(rng, scene))
        assert not result.moving
        assert result.area_ratio < 0.01


def test_first_frame_is_never_motion(rng: np.random.Generator) -> None:
    detector = MotionDetector(MotionConfig(), W, H)
    busy = patches(rng, W, H, 0, 255, cell=4)
    assert not detector.detect(bgr(busy)).moving


@pytest.mark.parametrize(
    ("width", "height", "scale_width"),
    [(640, 360, 320), (1280, 720, 320), (320, 240, 320), (800, 600, 200)],
)
def test_square_appearing_is_boxed_in_frame_pixels(
    rng: np.random.Generator, width: int, height: int, scale_width: int
) -> None:
    cfg = MotionConfig(scale_width=scale_width)
    scene = patches(rng, width, height, 40, 120)
    detector = warmed_up(cfg, scene, rng)
    # A square of a tenth of the frame, well away from the origin, so a box left in analysis
    # pixels (not scaled back) would miss it.
    side = width // 10
    square = (width // 2, height // 2, width // 2 + side, height // 2 + side)
    result = detector.detect(noisy(rng, with_square(scene, square)))
    assert len(result.boxes) == 1
    box = result.boxes[0]
    # Downscale, blur and dilation widen the blob by a few analysis pixels on each side.
    scale = width / min(scale_width, width)
    margin = int(np.ceil(8 * scale))
    assert contains(box, square), (box, square)
    assert contains(grown(square, margin), box.tolist()), (box, square, margin)
    assert result.boxes.dtype == np.int32
    assert 0.5 * 0.01 < result.area_ratio < 0.05


def test_moving_square_is_followed(rng: np.random.Generator, scene: NDArray[np.float64]) -> None:
    detector = warmed_up(MotionConfig(), scene, rng)
    for step in range(12):
        square = (100 + 25 * step, 150, 140 + 25 * step, 190)
        result = detector.detect(noisy(rng, with_square(scene, square)))
        assert result.moving, step
        assert any(contains(b, square, slack=2) for b in result.boxes), (step, result.boxes)
        # Whatever trail the slowly adapting background leaves, nothing far from the path moves.
        for b in result.boxes:
            assert b[1] >= 150 - 20
            assert b[3] <= 190 + 20
            assert b[0] >= 100 - 20
            assert b[2] <= square[2] + 20


def test_square_that_stops_fades_into_the_background(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    detector = warmed_up(MotionConfig(), scene, rng)
    parked = with_square(scene, (300, 100, 340, 140))
    # Moving pixels are learnt at a tenth of frame_alpha (no ghost trails), so a parked object
    # takes a while: 250 frames is 50 s at 5 fps.
    results = [detector.detect(noisy(rng, parked)) for _ in range(250)]
    assert results[0].moving
    assert not any(r.moving for r in results[-10:])


def test_two_separate_squares_give_two_boxes(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    detector = warmed_up(MotionConfig(), scene, rng)
    left, right = (40, 40, 90, 90), (500, 250, 550, 300)
    result = detector.detect(noisy(rng, with_square(with_square(scene, left), right)))
    assert len(result.boxes) == 2
    ordered = sorted(result.boxes.tolist())
    assert contains(ordered[0], left)
    assert contains(ordered[1], right)


def test_blobs_smaller_than_contour_area_are_ignored(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    square = (300, 150, 330, 180)  # 900 px of 230 400: about 0.4 % of the frame
    small_ok = warmed_up(MotionConfig(contour_area=0.001), scene, rng)
    assert small_ok.detect(noisy(rng, with_square(scene, square))).moving
    too_small = warmed_up(MotionConfig(contour_area=0.05), scene, rng)
    result = too_small.detect(noisy(rng, with_square(scene, square)))
    assert not result.moving
    assert result.area_ratio > 0  # the change is still measured, just not reported as a box


def test_mask_ignores_motion_inside_but_not_outside(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    left_half = Polygon.model_validate("0,0,0.5,0,0.5,1,0,1")
    cfg = MotionConfig(mask=[left_half])
    detector = warmed_up(cfg, scene, rng)
    for step in range(10):
        inside = (40 + 20 * step, 100, 90 + 20 * step, 150)  # stays left of x=320
        result = detector.detect(noisy(rng, with_square(scene, inside)))
        assert not result.moving, (step, result.boxes)
        assert result.area_ratio == 0.0
    for step in range(10):
        outside = (400 + 15 * step, 200, 450 + 15 * step, 250)
        result = detector.detect(noisy(rng, with_square(scene, outside)))
        assert result.moving, step
        assert all(b[0] >= W // 2 - 20 for b in result.boxes)


def test_a_mask_drawn_while_running_applies_from_the_next_frame(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    detector = warmed_up(MotionConfig(), scene, rng)
    square = (60, 100, 110, 150)
    assert detector.detect(noisy(rng, with_square(scene, square))).moving
    detector.set_mask(MotionConfig(mask=[Polygon.model_validate("0,0,0.5,0,0.5,1,0,1")]))
    for step in range(5):
        moved = (60 + 10 * step, 100, 110 + 10 * step, 150)
        assert not detector.detect(noisy(rng, with_square(scene, moved))).moving, step
    detector.set_mask(MotionConfig())  # the mask removed again
    assert detector.detect(noisy(rng, with_square(scene, (200, 300, 260, 360)))).moving


def test_area_ratio_is_relative_to_unmasked_area(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    square = (400, 150, 480, 230)
    unmasked = warmed_up(MotionConfig(), scene, rng)
    half_masked = warmed_up(
        MotionConfig(mask=[Polygon.model_validate("0,0,0.5,0,0.5,1,0,1")]), scene, rng
    )
    frame = noisy(rng, with_square(scene, square))
    full = unmasked.detect(frame).area_ratio
    half = half_masked.detect(frame).area_ratio
    assert full == pytest.approx(80 * 80 / (W * H), rel=0.35)
    assert half == pytest.approx(2 * full, rel=0.1)


def test_slow_brightness_ramp_is_not_motion(rng: np.random.Generator) -> None:
    scene = patches(rng, W, H, 20, 50)
    detector = MotionDetector(MotionConfig(), W, H)
    for i in range(100):
        result = detector.detect(noisy(rng, scene + 2.0 * i))
        assert not result.moving, (i, result.boxes)


def test_slow_darkening_is_not_motion(rng: np.random.Generator) -> None:
    scene = patches(rng, W, H, 200, 230)
    detector = MotionDetector(MotionConfig(), W, H)
    for i in range(100):
        assert not detector.detect(noisy(rng, scene - 1.8 * i)).moving, i


@pytest.mark.parametrize("rate", [2.0, 5.0])
def test_square_is_still_seen_during_a_brightness_ramp(
    rng: np.random.Generator, rate: float
) -> None:
    scene = patches(rng, W, H, 20, 50)
    detector = warmed_up(MotionConfig(), scene, rng)
    frames = 40
    seen = 0
    for i in range(frames):
        square = (60 + 8 * i, 120, 110 + 8 * i, 170)
        result = detector.detect(noisy(rng, with_square(scene + rate * i, square, 250.0)))
        assert len(result.boxes) <= 2, (i, result.boxes)  # the square (and its fading trail)
        seen += any(contains(b, square, slack=2) for b in result.boxes)
    # Immunity to drift must not come from blindness.
    assert seen >= 0.8 * frames


def test_fast_exposure_drift_is_not_motion(rng: np.random.Generator) -> None:
    # Auto-exposure settling: 5 grey levels a frame, faster than the background adapts.
    scene = patches(rng, W, H, 20, 50)
    detector = MotionDetector(MotionConfig(), W, H)
    results = [detector.detect(noisy(rng, scene + 5.0 * i)) for i in range(40)]
    assert not any(r.moving for r in results)
    assert max(r.area_ratio for r in results) < 0.01  # cancelled, not reset as a light switch


@pytest.mark.parametrize(("before", "after"), [(30.0, 250.0), (250.0, 30.0)])
def test_lights_switching_gives_no_boxes_then_stillness(
    rng: np.random.Generator, before: float, after: float
) -> None:
    # Pixel = reflectance x illumination: switching a light multiplies every pixel, which
    # changes contrast as well as mean brightness.
    reflectance = patches(rng, W, H, 0.1, 0.9)
    detector = warmed_up(MotionConfig(), reflectance * before, rng)
    switched = detector.detect(noisy(rng, reflectance * after))
    assert not switched.moving, switched.boxes
    for i in range(10):
        result = detector.detect(noisy(rng, reflectance * after))
        assert not result.moving, (i, result.boxes)
        assert result.area_ratio < 0.01
    # And the detector is not left blind afterwards.
    square = (300, 150, 350, 200)
    value = 255.0 if after < 128 else 0.0
    assert detector.detect(noisy(rng, with_square(reflectance * after, square, value))).moving


def test_uniform_brightness_jump_gives_no_boxes(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    detector = warmed_up(MotionConfig(), scene, rng)
    for _ in range(5):
        assert not detector.detect(noisy(rng, scene + 90)).moving


def test_bright_object_on_black_is_measured_while_scene_dims(rng: np.random.Generator) -> None:
    # Differences above 255 (adjusted frame vs float background) must not wrap around.
    scene = np.full((H, W), 80.0)
    scene[100:200, 250:350] = 0.0
    detector = warmed_up(MotionConfig(), scene, rng)
    dimmed = scene - 20.0
    dimmed[100:200, 250:350] = 0.0
    square = (260, 110, 340, 190)
    result = detector.detect(noisy(rng, with_square(dimmed, square, 255.0)))
    assert len(result.boxes) == 1
    assert contains(result.boxes[0], square)
    assert result.area_ratio == pytest.approx(80 * 80 / (W * H), rel=0.35)


@pytest.mark.parametrize(("width", "height"), [(W + 2, H), (W, H - 1), (H, W)])
def test_wrong_frame_size_raises(
    rng: np.random.Generator, scene: NDArray[np.float64], width: int, height: int
) -> None:
    detector = MotionDetector(MotionConfig(), W, H)
    wrong = bgr(np.zeros((height, width)))
    with pytest.raises(ValueError, match=f"{width}x{height}"):
        detector.detect(wrong)
    detector.detect(noisy(rng, scene))
    with pytest.raises(ValueError, match="640x360"):
        detector.detect(wrong)


def test_polygon_mask_fills_relative_polygons() -> None:
    mask = polygon_mask([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]], 100, 50)
    assert mask.shape == (50, 100)
    assert mask.dtype == np.uint8
    assert mask[25, 10] == 255
    assert mask[25, 90] == 0
    assert 0.48 < np.count_nonzero(mask) / mask.size < 0.52
    assert np.all(polygon_mask([], 100, 50) == 0)
    full = polygon_mask([[(0, 0), (1, 0), (1, 1), (0, 1)]], 100, 50)
    assert np.all(full == 255)


def test_passing_object_leaves_no_ghost_trail(
    rng: np.random.Generator, scene: NDArray[np.float64]
) -> None:
    # The moving square must not be learnt into the background where it was: boxes stay on it
    # instead of stretching back to where it came from (which would defeat crop-and-zoom).
    detector = warmed_up(MotionConfig(), scene, rng)
    for step in range(30):
        x = 40 + step * 15
        result = detector.detect(noisy(rng, with_square(scene, (x, 150, x + 50, 200))))
    assert result.moving
    left_edges = [int(b[0]) for b in result.boxes]
    assert min(left_edges) >= x - 40
