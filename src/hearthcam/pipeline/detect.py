"""The object detector stage: ONNX models in, columnar Detections out.

Owns the ``Detector`` protocol, the ONNX Runtime detector with its decoders (NanoDet-m,
MobileNetV3-CenterNet), the region strategy that runs the model on zoomed crops around motion,
and ``ScriptedDetector``, the fake the other stages' tests use. Boxes always leave this module
in full-frame pixels.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from hearthcam.config import DetectorConfig
from hearthcam.errors import ModelError
from hearthcam.types import BGRImage, Detections

log = logging.getLogger(__name__)

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]

#: A decoder turns raw model outputs into (boxes xyxy in input pixels, scores, class ids).
Decoder = Callable[[Sequence[NDArray[Any]], int, float], tuple[F32, F32, I32]]

BUILTIN_MODELS = {
    "nanodet-m-416": "nanodet-m-416-coco.onnx",
    "mb3-centernet-512": "mb3-centernet-512-coco.onnx",
}

NANODET_STRIDES = (8, 16, 32)
NANODET_BINS = 11


class Detector(Protocol):
    """Finds objects in a BGR frame; ``inferences`` counts model runs (for benchmarks)."""

    inferences: int

    def detect(self, image: BGRImage) -> Detections:
        """Detects objects in the whole frame."""
        ...

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        """Detects objects around the given motion boxes (xyxy, frame pixels)."""
        ...


class ScriptedDetector:
    """A fake Detector that answers each call with the next scripted Detections (then empty)."""

    def __init__(self, script: Sequence[Detections]) -> None:
        self._script = list(script)
        self.inferences = 0
        #: The motion boxes each call was given (None for a full-frame call), for assertions.
        self.calls: list[NDArray[np.int32] | None] = []

    def detect(self, image: BGRImage) -> Detections:
        """Returns the next scripted Detections."""
        self.calls.append(None)
        return self._next()

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        """Returns the next scripted Detections, recording the boxes asked about."""
        self.calls.append(np.asarray(boxes, dtype=np.int32).copy())
        return self._next()

    def _next(self) -> Detections:
        self.inferences += 1
        return self._script.pop(0) if self._script else Detections.empty()


def _softmax(x: F32, axis: int) -> F32:
    """Numerically stable softmax along one axis."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    out: F32 = e / e.sum(axis=axis, keepdims=True)
    return out


def _pair_nanodet_outputs(
    outputs: Sequence[NDArray[Any]], input_size: int
) -> list[tuple[int, NDArray[Any], NDArray[Any]]]:
    """Pairs class and box outputs by cell count (names do not tell the stride)."""
    by_cells: dict[int, dict[str, NDArray[Any]]] = {}
    for out in outputs:
        if out.ndim != 3 or out.shape[0] != 1:
            raise ModelError(f"NanoDet output of shape {out.shape} is not [1, cells, channels]")
        kind = "box" if out.shape[2] == 4 * NANODET_BINS else "cls"
        by_cells.setdefault(out.shape[1], {})[kind] = out[0]
    pairs = []
    for stride in NANODET_STRIDES:
        cells = (input_size // stride) ** 2
        found = by_cells.get(cells, {})
        if "box" not in found or "cls" not in found:
            shapes = [tuple(o.shape) for o in outputs]
            raise ModelError(
                f"NanoDet at input {input_size} needs class and box outputs with {cells} cells "
                f"(stride {stride}); the model gave {shapes}"
            )
        pairs.append((stride, found["cls"], found["box"]))
    return pairs


def decode_nanodet(
    outputs: Sequence[NDArray[Any]], input_size: int, score_threshold: float = 0.0
) -> tuple[F32, F32, I32]:
    """Decodes NanoDet-m (GFL) outputs into boxes xyxy in input pixels, scores and class ids."""
    boxes, scores, classes = [], [], []
    for stride, cls, dist in _pair_nanodet_outputs(outputs, input_size):
        # Class scores are already sigmoid; one class per cell (its best) is enough for NMS.
        class_id = cls.argmax(axis=1)
        score = cls[np.arange(len(cls)), class_id]
        # Thresholding before the softmax keeps the box decode to the few live cells.
        keep = np.flatnonzero(score >= score_threshold)
        grid = input_size // stride
        row, col = np.divmod(keep, grid)
        cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
        bins = _softmax(dist[keep].reshape(-1, 4, NANODET_BINS).astype(np.float32), axis=2)
        ltrb = (bins @ np.arange(NANODET_BINS, dtype=np.float32)) * stride
        boxes.append(
            np.stack([cx - ltrb[:, 0], cy - ltrb[:, 1], cx + ltrb[:, 2], cy + ltrb[:, 3]], 1)
        )
        scores.append(score[keep])
        classes.append(class_id[keep])
    return (
        np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(classes).astype(np.int32),
    )


#: CenterNet's in-graph top-K table: x1, y1, x2, y2 (input pixels), score, COCO-80 class id.
CENTERNET_COLUMNS = 6
COCO_CLASSES = 80


def decode_centernet(
    outputs: Sequence[NDArray[Any]], input_size: int, score_threshold: float = 0.0
) -> tuple[F32, F32, I32]:
    """Decodes MobileNetV3-CenterNet's detections table into boxes xyxy, scores and class ids.

    The model finds peaks (3x3 max-pool on its stride-4 heatmap), keeps the best K and turns
    them into boxes itself; its other outputs (heatmap, box sides) are what that table is made
    from, so only the [1, K, 6] table is read.
    """
    tables = [o for o in outputs if o.ndim == 3 and o.shape[0] == 1]
    table = next((o for o in tables if o.shape[2] == CENTERNET_COLUMNS), None)
    if table is None:
        shapes = [tuple(o.shape) for o in outputs]
        raise ModelError(
            f"CenterNet needs a detections output [1, K, {CENTERNET_COLUMNS}]; "
            f"the model gave {shapes}"
        )
    rows = np.asarray(table[0], dtype=np.float32)
    classes = np.rint(rows[:, 5])
    keep = (rows[:, 4] >= score_threshold) & (classes >= 0) & (classes < COCO_CLASSES)
    boxes = np.clip(rows[keep, :4], 0, input_size)
    return boxes.reshape(-1, 4), rows[keep, 4].copy(), classes[keep].astype(np.int32)


@dataclass(frozen=True, slots=True)
class ModelKind:
    """What differs between detector families: the decoder and the input's pixel scale."""

    decoder: Decoder
    #: Input values are pixel * scale (NanoDet: [0, 1]; CenterNet: raw 0-255).
    pixel_scale: float


KINDS: dict[str, ModelKind] = {
    "nanodet": ModelKind(decode_nanodet, 1 / 255),
    "centernet": ModelKind(decode_centernet, 1.0),
}
DECODERS: dict[str, Decoder] = {name: kind.decoder for name, kind in KINDS.items()}


def nms(dets: Detections, iou: float) -> Detections:
    """Class-aware non-maximum suppression, best scores first."""
    if len(dets) < 2:
        return dets
    xywh = dets.xyxy.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), dets.confidence.tolist(), dets.class_id.tolist(), 0.0, iou
    )
    return dets[np.sort(np.asarray(keep, dtype=np.intp).reshape(-1))]


def _provider_name(name: str) -> str:
    """Accepts short provider names ("CPU", "CUDA") as well as ONNX Runtime's full ones."""
    return name if name.endswith("ExecutionProvider") else f"{name}ExecutionProvider"


def choose_providers(requested: Sequence[str]) -> list[str]:
    """The first available requested ONNX Runtime provider, then CPU as the fallback."""
    available = set(ort.get_available_providers())
    chosen = next((_provider_name(p) for p in requested if _provider_name(p) in available), None)
    cpu = "CPUExecutionProvider"
    return [cpu] if chosen in (None, cpu) else [str(chosen), cpu]


def session_options(threads: int) -> ort.SessionOptions:
    """ONNX Runtime's options as the project runs its sessions."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Idle intra-op threads sleep instead of spinning: between frames (and while another
    # camera's thread has the cores) spinning burns CPU that decoding and motion need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # provider fallbacks are expected; keep ORT quiet
    return options


def open_onnx_session(path: Path, providers: list[str], threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session as the project runs them (ModelError if the file is unusable)."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    options = session_options(threads)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # ORT raises its own untyped pybind errors
        raise ModelError(f"cannot load {path} as an ONNX model: {error}") from error


def model_input_size(session: ort.InferenceSession, default: int = 416) -> int:
    """The model's own square input side, or ``default`` when its input shape is dynamic."""
    shape = list(session.get_inputs()[0].shape)
    if len(shape) == 4 and isinstance(shape[3], int) and shape[2] == shape[3] and shape[3] > 0:
        return shape[3]
    return default


def _check_input(session: ort.InferenceSession, path: Path, input_size: int) -> str:
    """Returns the input name after checking it takes one [1, 3, size, size] float image."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{path}: expected one image input, the model has {len(inputs)}")
    shape = list(inputs[0].shape)
    wanted: list[int | str] = [1, 3, input_size, input_size]
    fits = len(shape) == 4 and all(
        not isinstance(dim, int) or dim == want for dim, want in zip(shape, wanted, strict=True)
    )
    if not fits or inputs[0].type != "tensor(float)":
        raise ModelError(
            f"{path}: expected a float input of shape {wanted} (NCHW), "
            f"the model takes {inputs[0].type} {shape}"
        )
    return str(inputs[0].name)


def _fit_box(cx: float, cy: float, w: float, h: float, size: tuple[int, int]) -> list[float]:
    """A w-by-h box centred near (cx, cy), shifted (not cut) to lie inside the frame."""
    w, h = min(w, size[0]), min(h, size[1])
    x0 = min(max(cx - w / 2, 0.0), size[0] - w)
    y0 = min(max(cy - h / 2, 0.0), size[1] - h)
    return [x0, y0, x0 + w, y0 + h]


def _squared(
    box: Sequence[float], grow: float, min_side: float, size: tuple[int, int]
) -> list[float]:
    """Grows a box by ``grow`` of its size and makes it square, at least ``min_side`` wide."""
    w, h = (box[2] - box[0]) * grow, (box[3] - box[1]) * grow
    side = max(w, h, min_side)
    return _fit_box((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side, side, size)


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two xyxy boxes share some area (touching edges do not count)."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


@dataclass(frozen=True, slots=True)
class RegionPolicy:
    """How motion boxes become detector crops.

    Each box grows by ``margin`` per side and becomes a square of at least ``min_side`` of the
    frame's shorter side, so a small motion still shows the detector some context and is zoomed
    to the model's input. When the crops cover more than ``full_frame_ratio`` of the frame, or
    there are more than ``max_regions`` (each costs one inference), one full-frame pass is
    cheaper and sees as much.
    """

    margin: float = 0.25
    min_side: float = 0.3
    full_frame_ratio: float = 0.6
    max_regions: int = 4


def plan_regions(
    boxes: NDArray[np.int32], size: tuple[int, int], policy: RegionPolicy = RegionPolicy()
) -> I32 | None:
    """Crops (xyxy, frame pixels) around motion boxes of a (w, h) frame; None for full frame."""
    floor = policy.min_side * min(size)
    grow = 1 + 2 * policy.margin
    regions = [_squared(b, grow, floor, size) for b in np.asarray(boxes, np.float64)]
    merged = True
    while merged:  # a handful of regions at most: pairwise merging is cheap
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                if _overlap(regions[i], regions[j]):
                    a, b = regions[i], regions.pop(j)
                    union = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    regions[i] = _squared(union, 1.0, floor, size)
                    merged = True
                    break
            if merged:
                break
    covered = sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions) / (size[0] * size[1])
    if len(regions) > policy.max_regions or covered > policy.full_frame_ratio:
        return None
    return np.round(np.asarray(regions, np.float64)).astype(np.int32).reshape(-1, 4)


class OnnxDetector:
    """A Detector running an ONNX model with ONNX Runtime; the decoder fits the model's outputs."""

    def __init__(
        self,
        model_path: Path | str,
        input_size: int | None = None,
        providers: Sequence[str] = ("CPU",),
        threads: int = 0,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        *,
        kind: ModelKind = KINDS["nanodet"],
        regions: RegionPolicy = RegionPolicy(),
        letterbox: bool = False,
        batch: int = 1,
    ) -> None:
        path = Path(model_path)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.regions = regions
        self.letterbox = letterbox
        self.inferences = 0
        self._decoder = kind.decoder
        self._pixel_scale = kind.pixel_scale
        self._session = open_onnx_session(path, choose_providers(providers), threads)
        #: The square side every image is resized to (None: the model's own).
        self.input_size = input_size or model_input_size(self._session)
        self._input = _check_input(self._session, path, self.input_size)
        #: The most images one model run takes (``detect_many``): 1 unless ``batch`` asked for
        #: more and the graph proved it gives the same answers as a batch (``batch_model``).
        self.max_batch = 1
        if batch > 1:
            self._open_batched(path, providers, threads, batch)
        #: The execution provider actually running the model.
        self.provider: str = self._session.get_providers()[0]
        # A first run both warms the session up and proves the decoder understands the outputs.
        self._infer(np.zeros((self.input_size, self.input_size, 3), np.uint8))
        self.inferences = 0

    def _open_batched(self, path: Path, providers: Sequence[str], threads: int, batch: int) -> None:
        from hearthcam.pipeline.batch_model import batched_session  # onnx: only when batching

        session, check = batched_session(
            path, self._session, choose_providers(providers), session_options(threads),
            self.input_size,
        )  # fmt: skip
        log.info("%s as a batch of %d: %s (%s)", path.name, batch, check.batched, check.reason)
        if session is not None:
            self._session, self.max_batch = session, batch

    def detect(self, image: BGRImage) -> Detections:
        """Detects objects in the whole frame."""
        return self.detect_many([(image, None)])[0]

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        """Detects objects on zoomed crops around motion boxes (full frame if motion is large)."""
        return self.detect_many([(image, boxes)])[0]

    def detect_many(self, requests: Sequence[tuple[BGRImage, I32 | None]]) -> list[Detections]:
        """``detect`` (boxes None) or ``detect_regions`` of each (image, motion boxes), their
        images run ``max_batch`` at a time: what a batch gives each image is what it would give
        alone (``batch_model``)."""
        crops = [self._crops(image, boxes) for image, boxes in requests]
        found = iter(self._infer_many([crop for parts in crops for crop, _ in parts]))
        answers = []
        for parts in crops:
            merged = []
            for _, (x0, y0) in parts:
                part = next(found)
                if (x0, y0) != (0, 0):
                    part.xyxy[:] += np.array([x0, y0, x0, y0], np.float32)
                merged.append(part)
            # An object near a crop border may be found in two crops: NMS over all keeps the best.
            joined = merged[0] if len(merged) == 1 else Detections.merge(merged)
            answers.append(nms(joined, self.nms_iou))
        return answers

    def _crops(self, image: BGRImage, boxes: I32 | None) -> list[tuple[BGRImage, tuple[int, int]]]:
        """The images one request runs (the frame, or its zoomed crops around motion) and
        where each one's top left corner sits in the frame."""
        if boxes is None:
            return [(image, (0, 0))]
        size = (int(image.shape[1]), int(image.shape[0]))
        regions = plan_regions(boxes, size, self.regions)
        if regions is None:
            return [(image, (0, 0))]
        return [(image[y0:y1, x0:x1], (x0, y0)) for x0, y0, x1, y1 in regions.tolist()]

    def _infer_many(self, images: Sequence[BGRImage]) -> list[Detections]:
        """Model runs over ``images``, ``max_batch`` at a time; boxes in each image's pixels."""
        if self.max_batch == 1:
            return [self._infer(image) for image in images]
        found: list[Detections] = []
        for first in range(0, len(images), self.max_batch):
            chunk = images[first : first + self.max_batch]
            prepared = [self._preprocess(image) for image in chunk]
            blob = np.concatenate([blob for blob, _ in prepared])
            outputs = self._session.run(None, {self._input: blob})
            self.inferences += 1
            for i, (image, (_, scale)) in enumerate(zip(chunk, prepared, strict=True)):
                found.append(self._decode([out[i : i + 1] for out in outputs], image, scale))
        return found

    def _preprocess(self, image: BGRImage) -> tuple[F32, F32]:
        """The NCHW RGB /255 blob and the (x, y) scale from input pixels back to image pixels."""
        h, w = image.shape[:2]
        s = self.input_size
        if not self.letterbox:
            blob = cv2.dnn.blobFromImage(image, self._pixel_scale, (s, s), swapRB=True, crop=False)
            return blob.astype(np.float32), np.array([w / s, h / s], np.float32)
        scale = s / max(w, h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = np.full((s, s, 3), 114, np.uint8)  # the grey YOLO-style pads use
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(canvas, self._pixel_scale, (s, s), swapRB=True, crop=False)
        return blob.astype(np.float32), np.array([w / nw, h / nh], np.float32)

    def _infer(self, image: BGRImage) -> Detections:
        """One model run on an image; boxes in that image's pixels, before NMS."""
        blob, scale = self._preprocess(image)
        outputs = self._session.run(None, {self._input: blob})
        self.inferences += 1
        return self._decode(outputs, image, scale)

    def _decode(self, outputs: Sequence[NDArray[Any]], image: BGRImage, scale: F32) -> Detections:
        """One image's detections from its model outputs (a batch of 1), in its pixels."""
        boxes, scores, classes = self._decoder(outputs, self.input_size, self.score_threshold)
        boxes = boxes * np.tile(scale, 2)
        h, w = image.shape[:2]
        np.clip(boxes, 0, [w, h, w, h], out=boxes)
        return Detections(boxes.astype(np.float32), scores, classes)


def resolve_model(name: str) -> Traversable | None:
    """The packaged file of a built-in model name, or None if the name is not built in."""
    filename = BUILTIN_MODELS.get(name)
    if filename is None:
        return None
    return importlib.resources.files("hearthcam").joinpath("models", filename)


def load_detector(cfg: DetectorConfig, *, batch: int = 1) -> OnnxDetector:
    """Builds the configured detector from a built-in model name or an .onnx path; ``batch``
    above 1 lets ``detect_many`` run that many images at once where the graph allows it."""
    kind = KINDS.get(cfg.kind or "nanodet")
    if kind is None:
        raise ModelError(f"detector.kind: no decoder for {cfg.kind!r}; known: {sorted(KINDS)}")

    def build(path: Path) -> OnnxDetector:
        return OnnxDetector(
            path,
            input_size=cfg.input_size,
            providers=cfg.providers,
            threads=cfg.threads,
            kind=kind,
            regions=RegionPolicy(full_frame_ratio=cfg.full_frame_ratio),
            batch=batch,
        )

    resource = resolve_model(cfg.model)
    if resource is None:
        path = Path(cfg.model).expanduser()
        if not path.is_file():
            raise ModelError(
                f"detector.model: {cfg.model!r} is neither a built-in name "
                f"({', '.join(BUILTIN_MODELS)}) nor an existing .onnx file"
            )
        try:
            return build(path)
        except ModelError as error:
            # Named by its key, so the owner knows which line of the config to change.
            raise ModelError(f"detector.model: {error}") from error
    # as_file gives a real path even from a zipped install; the session has read it on return.
    with importlib.resources.as_file(resource) as path:
        return build(path)
