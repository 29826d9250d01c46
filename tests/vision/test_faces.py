"""Tests for CenterFace: decoding (pure), loading failures, and the real model on real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hearthcam.errors import ModelError
from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace, _input_geometry, decode_centerface
from hearthcam.vision.models import ModelFile, open_model
from hearthcam_bench.redact import OPENCV_DATA, photo, skimage_photo
from tests.support.required import require


def _outputs(h: int = 8, w: int = 8) -> list[np.ndarray]:
    return [
        np.zeros((1, 1, h, w), np.float32),
        np.zeros((1, 2, h, w), np.float32),
        np.zeros((1, 2, h, w), np.float32),
        np.zeros((1, 10, h, w), np.float32),
    ]


def test_one_heatmap_peak_decodes_to_one_box_around_its_cell() -> None:
    heat, scale, offset, marks = _outputs()
    heat[0, 0, 3, 5] = 0.9
    scale[0, :, 3, 5] = np.log(10.0)  # 10 cells of 4 px: a 40 px face
    marks[0, :, 3, 5] = 0.5  # every landmark at the box centre
    boxes, scores, points = decode_centerface([heat, scale, offset, marks], threshold=0.5)
    cx, cy = (5 + 0.5) * 4, (3 + 0.5) * 4
    np.testing.assert_allclose(boxes, [[cx - 20, cy - 20, cx + 20, cy + 20]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9])
    np.testing.assert_allclose(points, [[cx, cy] * 5], atol=1e-4)
    assert len(decode_centerface([heat, scale, offset, marks], threshold=0.95)[0]) == 0


def test_outputs_of_another_model_are_a_model_error() -> None:
    with pytest.raises(ModelError, match="heatmap"):
        decode_centerface(_outputs()[:3], 0.5)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((176, 144), 640, (1.0, 192, 160)), ((1280, 720), 640, (0.5, 640, 384)),
     ((640, 480), None, (1.0, 640, 480))],
)  # fmt: skip
def test_inputs_are_scaled_and_padded_to_multiples_of_32(
    size: tuple[int, int], max_side: int | None, expected: tuple[float, int, int]
) -> None:
    assert _input_geometry(*size, max_side) == expected


def test_a_missing_or_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not installed"):
        open_model(ModelFile("no_such_package_here", "x.onnx"))
    with pytest.raises(ModelError, match="missing"):
        open_model(ModelFile("hearthcam", "models/nothing.onnx"))
    corrupt = tmp_path / "centerface.onnx"
    corrupt.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="cannot load"):
        open_model(corrupt)


def _real(name: str) -> BGRImage:
    path = OPENCV_DATA / name
    require(path.is_file(), f"{path} is not installed (Debian opencv-doc)")
    return photo(path)


@pytest.mark.integration
def test_the_astronauts_face_is_found(faces: CenterFace) -> None:
    found = faces.detect(skimage_photo("astronaut"))
    assert len(found) == 1
    x0, y0, x1, y1 = found.xyxy[0]
    assert 150 < x0 < x1 < 300
    assert 30 < y0 < y1 < 200
    assert found.data["landmarks"].shape == (1, 10)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["basketball1.png", "basketball2.png"])
def test_both_players_faces_are_found(faces: CenterFace, name: str) -> None:
    found = faces.detect(_real(name))
    assert len(found) == 2
    assert sorted(int(b[0] > 320) for b in found.xyxy) == [0, 1]  # one each side


@pytest.mark.integration
def test_the_face_is_found_on_every_carphone_frame(
    faces: CenterFace, carphone: list[BGRImage]
) -> None:
    assert all(len(faces.detect(frame)) == 1 for frame in carphone)


@pytest.mark.integration
def test_odd_frame_sizes_are_handled(faces: CenterFace) -> None:
    astronaut = skimage_photo("astronaut")
    crop = np.ascontiguousarray(astronaut[11:400, 3:333])  # 389 x 330, no multiple of 32
    found = faces.detect(crop)
    assert len(found) == 1
    assert found.xyxy[0, 2] <= 330
    assert found.xyxy[0, 3] <= 389
    big = np.ascontiguousarray(np.repeat(np.repeat(astronaut, 3, 0), 3, 1))  # 1536 x 1536
    assert len(faces.detect(big)) == 1
