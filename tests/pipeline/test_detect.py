"""Tests for the detector stage: NanoDet decoding, region planning, loading, the real model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from numpy.typing import NDArray

from hearthcam.config import DetectorConfig
from hearthcam.errors import ModelError
from hearthcam.labels import ANIMAL_LABELS, class_id_of, label_of
from hearthcam.pipeline.detect import (
    NANODET_BINS,
    Detector,
    OnnxDetector,
    RegionPolicy,
    ScriptedDetector,
    choose_providers,
    decode_nanodet,
    load_detector,
    nms,
    plan_regions,
    resolve_model,
)
from hearthcam.types import BGRImage, Detections
from tests.support.required import require

DARKNET = Path("/usr/share/darknet/data")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
F32 = NDArray[np.float32]


def _read(path: Path) -> BGRImage:
    require(path.is_file(), f"{path} is not installed (Debian darknet)")
    image = cv2.imread(str(path))
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def _rgb_to_bgr(image: NDArray[np.uint8]) -> BGRImage:
    return np.ascontiguousarray(image[:, :, ::-1])


def _skimage(name: str) -> NDArray[np.uint8]:
    """A scikit-image sample photo (RGB); its loaders are untyped."""
    image: NDArray[np.uint8] = getattr(skimage.data, name)()
    return image


def _labels(dets: Detections) -> set[str]:
    return {label_of(int(c)) for c in dets.class_id}


def _best(dets: Detections, label: str) -> NDArray[np.float32]:
    """The box of the highest-scoring detection of a label."""
    rows = np.flatnonzero(dets.class_id == class_id_of(label))
    assert len(rows), f"no {label} in {sorted(_labels(dets))}"
    box: NDArray[np.float32] = dets.xyxy[rows[dets.confidence[rows].argmax()]]
    return box


def _centre_inside(box: NDArray[np.float32], region: tuple[float, float, float, float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(region[0] <= cx <= region[2] and region[1] <= cy <= region[3])


# --- decoder -------------------------------------------------------------------------------


def _zero_outputs(size: int = 416) -> dict[int, tuple[F32, F32]]:
    """Silent NanoDet outputs per stride: (class scores, box distributions)."""
    out = {}
    for stride in (8, 16, 32):
        cells = (size // stride) ** 2
        out[stride] = (
            np.zeros((1, cells, 80), np.float32),
            np.zeros((1, cells, 4 * NANODET_BINS), np.float32),
        )
    return out


def test_decoder_one_hot_cell_gives_known_box() -> None:
    outputs = _zero_outputs()
    cls, dist = outputs[16]
    cell = 5 * 26 + 7  # row 5, column 7 of the 26x26 stride-16 grid
    cls[0, cell, 15] = 0.9
    logits = dist[0, cell].reshape(4, NANODET_BINS)
    for side, bin_ in enumerate((2, 3, 4, 1)):  # left, top, right, bottom, in strides
        logits[side, bin_] = 50.0
    # Order must not matter: outputs are matched by shape, not position or name.
    flat = [outputs[32][1], outputs[8][0], dist, outputs[32][0], cls, outputs[8][1]]

    boxes, scores, classes = decode_nanodet(flat, 416, 0.5)

    centre = (7.5 * 16, 5.5 * 16)
    expected = [centre[0] - 32, centre[1] - 48, centre[0] + 64, centre[1] + 16]
    np.testing.assert_allclose(boxes, [expected], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)
    assert classes.tolist() == [15]
    assert boxes.dtype == np.float32
    assert classes.dtype == np.int32


def test_decoder_distance_is_the_softmax_expectation() -> None:
    outputs = _zero_outputs()
    cls, dist = outputs[8]
    cls[0, 0, 0] = 0.8
    # Two equal bins (3 and 5) for every side: the expected distance is 4 bins = 32 px.
    dist[0, 0].reshape(4, NANODET_BINS)[:, [3, 5]] = 50.0

    boxes, _, _ = decode_nanodet([a for pair in outputs.values() for a in pair], 416, 0.5)

    np.testing.assert_allclose(boxes, [[4 - 32, 4 - 32, 4 + 32, 4 + 32]], atol=1e-3)


def test_decoder_threshold_and_all_cells() -> None:
    flat = [a for pair in _zero_outputs().values() for a in pair]
    boxes, scores, classes = decode_nanodet(flat, 416, 0.1)
    assert boxes.shape == (0, 4)
    assert len(scores) == len(classes) == 0
    assert len(decode_nanodet(flat, 416)[0]) == 52**2 + 26**2 + 13**2


@pytest.mark.parametrize(
    "shapes",
    [
        [(1, 2704, 80), (1, 2704, 44)],  # strides 16 and 32 missing
        [(1, 3, 416, 416)],
        [(1, 2704, 80), (1, 2704, 44), (1, 676, 80), (1, 676, 44), (1, 169, 80), (1, 170, 44)],
    ],
)
def test_decoder_rejects_foreign_outputs(shapes: list[tuple[int, ...]]) -> None:
    with pytest.raises(ModelError, match=r"output|cells"):
        decode_nanodet([np.zeros(s, np.float32) for s in shapes], 416)


# --- NMS, providers, the fake --------------------------------------------------------------


def test_nms_is_class_aware() -> None:
    dets = Detections(
        np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32),
        np.array([0.9, 0.8, 0.7, 0.6], np.float32),
        np.array([0, 0, 16, 0], np.int32),
    )
    kept = nms(dets, 0.5)
    assert kept.confidence.tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert kept.class_id.tolist() == [0, 16, 0]
    assert len(nms(Detections.empty(), 0.5)) == 0


def test_choose_providers_skips_missing_and_falls_back_to_cpu() -> None:
    assert choose_providers(["NoSuchExecutionProvider", "CPU"]) == ["CPUExecutionProvider"]
    assert choose_providers(["NoSuch"]) == ["CPUExecutionProvider"]
    assert choose_providers([]) == ["CPUExecutionProvider"]


def test_scripted_detector_answers_in_order_then_empty() -> None:
    one = Detections(
        np.array([[1, 2, 3, 4]], np.float32), np.array([0.9], np.float32), np.array([0], np.int32)
    )
    fake: Detector = ScriptedDetector([one])  # mypy checks it meets the protocol
    image = np.zeros((8, 8, 3), np.uint8)
    assert fake.detect_regions(image, np.array([[0, 0, 4, 4]], np.int32)) is one
    assert len(fake.detect(image)) == 0
    assert fake.inferences == 2
    assert isinstance(fake, ScriptedDetector)
    assert fake.calls[0] is not None
    assert fake.calls[0].tolist() == [[0, 0, 4, 4]]
    assert fake.calls[1] is None


# --- region planning -----------------------------------------------------------------------


def test_small_motion_gets_a_square_region_with_context() -> None:
    regions = plan_regions(np.array([[300, 100, 310, 120]], np.int32), (640, 360))
    assert regions is not None
    (x0, y0, x1, y1) = regions[0].tolist()
    assert x1 - x0 == y1 - y0 == 108  # 0.3 of the shorter side
    assert x0 < 300 < 310 < x1
    assert y0 < 100 < 120 < y1


def test_region_at_the_edge_is_shifted_inside_the_frame() -> None:
    regions = plan_regions(np.array([[620, 340, 640, 360]], np.int32), (640, 360))
    assert regions is not None
    assert regions.tolist() == [[532, 252, 640, 360]]


def test_overlapping_regions_merge_and_distant_ones_do_not() -> None:
    boxes = np.array([[100, 100, 120, 140], [130, 110, 150, 150], [1100, 600, 1120, 640]], np.int32)
    regions = plan_regions(boxes, (1280, 720))
    assert regions is not None
    assert len(regions) == 2
    first = regions[0].tolist()
    assert first[0] <= 100 < 150 <= first[2]
    assert first[1] <= 100 < 150 <= first[3]


def test_large_or_many_motions_mean_full_frame() -> None:
    assert plan_regions(np.array([[0, 0, 400, 300]], np.int32), (640, 360)) is None
    scattered = np.array([[x, 10, x + 4, 14] for x in range(0, 1280, 200)], np.int32)
    assert plan_regions(scattered, (1280, 720)) is None  # 7 separate regions
    assert plan_regions(scattered[:2], (1280, 720)) is not None
    assert plan_regions(scattered[::3][:2], (1280, 720), RegionPolicy(max_regions=1)) is None
    big = np.array([[0, 0, 200, 200]], np.int32)
    assert plan_regions(big, (1280, 720), RegionPolicy(full_frame_ratio=0.05)) is None


def test_no_motion_means_no_region() -> None:
    regions = plan_regions(np.zeros((0, 4), np.int32), (640, 360))
    assert regions is not None
    assert regions.shape == (0, 4)


# --- loading -------------------------------------------------------------------------------


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _pb(field: int, value: int | bytes | str) -> bytes:
    """One protobuf field: varint for ints, length-delimited for bytes and strings."""
    if isinstance(value, int):
        return _pb_varint(field << 3) + _pb_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _pb_varint(field << 3 | 2) + _pb_varint(len(data)) + data


def _identity_onnx(shape: tuple[int, ...]) -> bytes:
    """A valid ONNX model (Identity, float input of ``shape``) without the onnx package."""
    dims = b"".join(_pb(1, _pb(1, d)) for d in shape)  # TensorShapeProto.dim.dim_value
    tensor_type = _pb(1, _pb(1, 1) + _pb(2, dims))  # TypeProto.tensor_type{elem_type, shape}
    graph = (
        _pb(1, _pb(1, "x") + _pb(2, "y") + _pb(4, "Identity"))
        + _pb(2, "g")
        + _pb(11, _pb(1, "x") + _pb(2, tensor_type))
        + _pb(12, _pb(1, "y") + _pb(2, tensor_type))
    )
    return _pb(1, 7) + _pb(7, graph) + _pb(8, _pb(2, 13))


def test_missing_model_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        OnnxDetector(tmp_path / "absent.onnx")
    # The config refuses such a path; a config built without validation still fails clearly.
    absent = DetectorConfig().model_copy(update={"model": str(tmp_path / "absent.onnx")})
    with pytest.raises(ModelError, match=r"detector\.model: .* neither a built-in name"):
        load_detector(absent)


def test_a_model_onnx_runtime_cannot_load_names_the_config_key(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(ModelError, match=r"^detector\.model: cannot load .*junk\.onnx"):
        load_detector(DetectorConfig(model=str(junk)))


def test_non_onnx_file_is_a_model_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(ModelError, match="cannot load"):
        OnnxDetector(junk)


def test_wrong_input_shape_is_a_model_error(tmp_path: Path) -> None:
    model = tmp_path / "nhwc.onnx"
    model.write_bytes(_identity_onnx((1, 416, 416, 3)))
    with pytest.raises(ModelError, match="expected a float input"):
        OnnxDetector(model)


def test_outputs_the_decoder_cannot_read_are_a_model_error(tmp_path: Path) -> None:
    model = tmp_path / "identity.onnx"
    model.write_bytes(_identity_onnx((1, 3, 64, 64)))
    with pytest.raises(ModelError, match="NanoDet output"):
        OnnxDetector(model, input_size=64)


def test_builtin_name_resolves_to_the_packaged_file() -> None:
    path = resolve_model("nanodet-m-416")
    assert path is not None
    assert path.name == "nanodet-m-416-coco.onnx"
    assert path.is_file()
    assert resolve_model("some/file.onnx") is None


# --- the real model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    loaded = load_detector(DetectorConfig(threads=2))
    _: Detector = loaded  # mypy checks the real detector meets the protocol too
    return loaded


@pytest.mark.integration
def test_darknet_dog_photo(detector: OnnxDetector) -> None:
    dets = detector.detect(_read(DARKNET / "dog.jpg"))  # 768x576
    assert {"dog", "bicycle"} <= _labels(dets)
    assert _labels(dets) & {"truck", "car"}
    assert _centre_inside(_best(dets, "dog"), (100, 250, 350, 550))
    assert _centre_inside(_best(dets, "bicycle"), (150, 150, 550, 450))
    assert "person" not in _labels(dets)


@pytest.mark.integration
def test_darknet_person_photo(detector: OnnxDetector) -> None:
    dets = detector.detect(_read(DARKNET / "person.jpg"))  # 640x424
    assert {"person", "dog", "horse"} <= _labels(dets)
    assert _centre_inside(_best(dets, "person"), (180, 150, 300, 350))
    assert _centre_inside(_best(dets, "horse"), (400, 150, 620, 350))
    assert _centre_inside(_best(dets, "dog"), (50, 250, 220, 360))
    assert dets.xyxy.dtype == np.float32
    assert dets.tracker_id.tolist() == [-1] * len(dets)


@pytest.mark.integration
def test_astronaut_is_one_person(detector: OnnxDetector) -> None:
    dets = detector.detect(_rgb_to_bgr(_skimage("astronaut")))
    people = dets[dets.class_id == 0]
    assert len(people) == 1
    assert people.confidence[0] > 0.6
    assert _centre_inside(people.xyxy[0], (100, 150, 350, 400))


@pytest.mark.integration
def test_vtest_pedestrians(detector: OnnxDetector) -> None:
    require(VTEST.is_file(), f"{VTEST} is not installed (Debian opencv-doc)")
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 200)
    ok, frame = capture.read()
    capture.release()
    assert ok
    dets = detector.detect(np.asarray(frame, np.uint8))
    people = dets[(dets.class_id == 0) & (dets.confidence >= 0.5)]
    assert len(people) >= 4
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    assert np.all(heights > people.xyxy[:, 2] - people.xyxy[:, 0])  # standing people are tall


def _coffee_with_cat() -> tuple[BGRImage, tuple[int, int, int, int]]:
    """A 1280x720 kitchen frame with a cat (226x150) pasted bottom right, and the paste box."""
    frame = cv2.resize(_rgb_to_bgr(_skimage("coffee")), (1280, 720))
    cat = cv2.resize(_rgb_to_bgr(_skimage("chelsea")), (226, 150))
    x, y = 1034, 550
    frame[y : y + 150, x : x + 226] = cat
    return np.asarray(frame, np.uint8), (x, y, x + 226, y + 150)


@pytest.mark.integration
def test_crop_and_zoom_finds_the_cat_full_frame_misses(detector: OnnxDetector) -> None:
    frame, paste = _coffee_with_cat()
    full = detector.detect(frame)
    assert not (_labels(full) & ANIMAL_LABELS)  # the whole frame shows the cat too small

    detector.inferences = 0
    zoomed = detector.detect_regions(frame, np.array([paste], np.int32))
    assert detector.inferences == 1
    animals = _labels(zoomed) & ANIMAL_LABELS
    assert animals & {"cat", "dog"}
    assert "person" not in _labels(zoomed)
    box = _best(zoomed, next(iter(animals & {"cat", "dog"})))
    np.testing.assert_allclose(box, paste, atol=20)


@pytest.mark.integration
def test_region_boxes_map_back_to_the_full_frame(detector: OnnxDetector) -> None:
    person = _read(DARKNET / "person.jpg")[90:390, 170:300]  # the man, 130x300
    frame = np.full((720, 1280, 3), 128, np.uint8)
    x, y = 700, 300
    frame[y : y + 300, x : x + 130] = person

    detector.inferences = 0
    # The man spans about x 19..109, y 16..288 of the pasted crop; motion outlines him.
    man = [x + 19, y + 16, x + 109, y + 288]
    dets = detector.detect_regions(frame, np.array([man], np.int32))

    assert detector.inferences == 1
    np.testing.assert_allclose(_best(dets, "person"), man, atol=20)


@pytest.mark.integration
def test_large_motion_falls_back_to_one_full_frame_pass(detector: OnnxDetector) -> None:
    image = _read(DARKNET / "person.jpg")
    detector.inferences = 0
    dets = detector.detect_regions(image, np.array([[0, 0, 500, 400]], np.int32))
    assert detector.inferences == 1
    full = detector.detect(image)
    np.testing.assert_array_equal(dets.xyxy, full.xyxy)
    np.testing.assert_array_equal(dets.class_id, full.class_id)


@pytest.mark.integration
def test_no_motion_runs_no_inference(detector: OnnxDetector) -> None:
    detector.inferences = 0
    dets = detector.detect_regions(np.zeros((360, 640, 3), np.uint8), np.zeros((0, 4), np.int32))
    assert len(dets) == 0
    assert detector.inferences == 0


@pytest.mark.integration
def test_letterbox_maps_boxes_back(detector: OnnxDetector) -> None:
    path = resolve_model("nanodet-m-416")
    assert path is not None
    boxed = OnnxDetector(Path(str(path)), threads=2, letterbox=True)
    dets = boxed.detect(_read(DARKNET / "dog.jpg"))
    assert _centre_inside(_best(dets, "dog"), (100, 250, 350, 550))
    assert boxed.provider == "CPUExecutionProvider"
