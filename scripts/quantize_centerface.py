"""Makes src/hearthcam/models/centerface-int8.onnx, the second check's int8 CenterFace.

Static int8 quantization with ONNX Runtime (QDQ: activations uint8, weights int8 per channel,
MinMax calibration) of the packaged fp32 CenterFace, after raising its opset 9 to 13 (per-channel
DequantizeLinear needs 13). Calibration: CenterFace's input blobs, made as the check and the
redaction make them (``centerface_input``), for frames of footage that no face test uses:
every 60th frame of opencv-doc's vtest.avi (real pedestrians, upscaled to 1280x720) and every
30th frame of opencv-doc's Megamind.avi (animated faces). Deterministic for one onnxruntime
version. Run: python scripts/quantize_centerface.py [OUT]
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from hearthcam import scenes
from hearthcam.vision.check import SMALLEST_FACE
from hearthcam.vision.media import read_frames
from hearthcam_bench.redact import HD, OPENCV_DATA

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src/hearthcam/models/centerface.onnx"
OUT = ROOT / "src/hearthcam/models/centerface-int8.onnx"


def calibration_frames() -> Iterator[np.ndarray]:
    """Frames of footage no face test uses (see the module docstring)."""
    for image in list(scenes.vtest_frames())[::60]:
        yield np.asarray(cv2.resize(image, HD), np.uint8)
    for frame in read_frames(OPENCV_DATA / "Megamind.avi"):
        if frame.index % 30 == 0:
            yield frame.image


class Blobs(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime.quantization is untyped
    """Each frame at the check's scale (24 px faces) and at the redaction's (640 px)."""

    def __init__(self, name: str) -> None:
        from hearthcam.vision.faces import centerface_input

        blobs = []
        for image in calibration_frames():
            blobs.append(centerface_input(image, 640, 0.05, SMALLEST_FACE)[0])
            blobs.append(centerface_input(image, 640, 0.05)[0])
        self._feeds = iter([{name: b} for b in blobs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        opset13, prepared = Path(tmp) / "cf13.onnx", Path(tmp) / "cf13-pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load(str(SRC)), 13), str(opset13))
        quant_pre_process(str(opset13), str(prepared), skip_symbolic_shape=True)
        name = onnx.load(str(prepared)).graph.input[0].name
        quantize_static(
            str(prepared), str(out), Blobs(name), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip
    print(out, hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
