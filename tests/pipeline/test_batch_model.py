"""The packaged detectors as a batch (the node's detector service): the real ONNX files, real
frames of pedestrians (opencv-doc's vtest.avi) and ONNX Runtime on the CPU."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from hearthcam.config import DetectorConfig
from hearthcam.errors import ModelError
from hearthcam.pipeline.batch_model import free_batch
from hearthcam.pipeline.batcher import Batcher
from hearthcam.pipeline.detect import load_detector, resolve_model
from hearthcam.types import BGRImage, Detections
from tests.support.required import require

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="module")
def frames() -> list[BGRImage]:
    require(VTEST.is_file(), f"{VTEST} is not installed (Debian opencv-doc)")
    capture = cv2.VideoCapture(str(VTEST))
    picked = []
    for index in range(0, 200, 25):  # 8 frames of different people
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        assert ok
        picked.append(np.asarray(frame, np.uint8))
    capture.release()
    return picked


def same(a: Detections, b: Detections) -> None:
    assert a.class_id.tolist() == b.class_id.tolist()
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_nanodet_as_a_batch_finds_what_it_finds_one_frame_at_a_time(
    frames: list[BGRImage],
) -> None:
    alone = load_detector(DetectorConfig())
    batched = load_detector(DetectorConfig(), batch=4)
    assert (alone.max_batch, batched.max_batch) == (1, 4)
    # Two motions far apart (two crops) in 3 of the frames, the whole frame in the other 5.
    motion = np.array([[50, 50, 100, 120], [600, 350, 660, 450]], np.int32)
    requests = [(frame, motion if i % 3 == 0 else None) for i, frame in enumerate(frames)]
    together = batched.detect_many(requests)
    assert batched.inferences == 3  # 3 x 2 crops + 5 frames: 11 images, 4 a run
    apart = [alone.detect(f) if b is None else alone.detect_regions(f, b) for f, b in requests]
    assert sum(len(found) for found in apart) >= 20  # people, really found
    for one, other in zip(apart, together, strict=True):
        same(one, other)


def test_mobilenet_centernet_does_not_take_a_batch_and_answers_one_frame_at_a_time(
    frames: list[BGRImage],
) -> None:
    config = DetectorConfig(model="mb3-centernet-512", kind="centernet")
    batched = load_detector(config, batch=4)
    assert batched.max_batch == 1  # its top-k over the heatmap fixes the batch: checked, refused
    alone = load_detector(config)
    together = batched.detect_many([(f, None) for f in frames[:3]])
    for one, other in zip([alone.detect(f) for f in frames[:3]], together, strict=True):
        same(one, other)
    assert batched.inferences == 3


def test_free_batch_changes_the_reshapes_that_fix_the_batch() -> None:
    resource = resolve_model("nanodet-m-416")
    assert resource is not None
    model = onnx.load_from_string(resource.read_bytes())
    assert free_batch(model) == 2  # NanoDet-m's [1, 80, -1] and [1, 44, -1]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_a_model_with_two_inputs_is_refused() -> None:
    model = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Add", ["a", "b"], ["c"])],
            "two",
            [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "ab"],
            [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [1])],
        )
    )
    with pytest.raises(ModelError, match="one image input"):
        free_batch(model)


def test_cameras_asking_at_once_get_their_own_answers_from_the_batched_model(
    frames: list[BGRImage],
) -> None:
    alone = load_detector(DetectorConfig())
    batcher = Batcher(load_detector(DetectorConfig(), batch=8), max_requests=8)
    answers: dict[int, Detections] = {}

    def camera(index: int) -> None:
        answers[index] = batcher.ask(frames[index])

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == list(range(len(frames)))
    for index, frame in enumerate(frames):
        same(alone.detect(frame), answers[index])
    assert batcher.stats.requests == len(frames)
