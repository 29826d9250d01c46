"""A packaged detector graph made to take a batch of images: the node's detector service
(``cluster.detector``) runs its cameras' frames through one model run.

The packaged graphs were exported for one image: their input is ``[1, 3, H, W]`` and their
reshapes spell the batch as a literal 1 (NanoDet-m: ``[1, 80, -1]``), so marking the input's
first dimension free is not enough (a batch of 4 comes out as 1). ``free_batch`` marks it free
and turns each reshape's leading literal 1 into 0 (ONNX: "copy this dimension from the input"),
which is the batch wherever the tensor still has it first. Whether that is right for a given
graph is not assumed: ``batched_session`` runs two different images as a batch of 2 and one at a
time and keeps the batched graph only if the outputs agree (max difference ``AGREE``); otherwise
the caller runs one image at a time, as before. Nothing is written to disk; the single-box path
never loads this module.

On the packaged NanoDet-m the batch of 2 agrees to 1e-6 (float rounding of the convolutions at
another batch shape); MobileNetV3-CenterNet's top-k over the flattened heatmap does not take a
batch this way, and stays at one image a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from hearthcam.errors import ModelError

log = logging.getLogger(__name__)

#: The largest difference between a batched and a one-image output that still counts as equal.
AGREE = 1e-4
#: Ops a reshape's shape may pass through from its constant (the graphs converted from
#: TensorFlow compute it as constant + scatter of nothing, then cast).
_SHAPE_OPS = frozenset({"Add", "Cast", "Identity"})


def free_batch(model: onnx.ModelProto) -> int:
    """Marks ``model``'s first input dimension free and makes its reshapes copy the batch
    instead of fixing it at 1 (in place); returns how many shape constants it changed."""
    graph = model.graph
    if len(graph.input) != 1:
        raise ModelError(f"expected one image input, the model has {len(graph.input)}")
    dims = graph.input[0].type.tensor_type.shape.dim
    if not dims:
        raise ModelError("the model's input has no shape")
    dims[0].ClearField("dim_value")
    dims[0].dim_param = "batch"
    for output in graph.output:  # the exported shapes say batch 1; let ONNX Runtime infer them
        for dim in output.type.tensor_type.shape.dim:
            dim.ClearField("dim_value")
    del graph.value_info[:]
    producers = {name: node for node in graph.node for name in node.output}
    constants = {init.name: index for index, init in enumerate(graph.initializer)}
    changed: set[str] = set()

    def patch(name: str, depth: int) -> None:
        if name in constants and name not in changed:
            index = constants[name]
            value = numpy_helper.to_array(graph.initializer[index])
            if value.dtype.kind == "i" and value.ndim == 1 and len(value) >= 2 and value[0] == 1:
                value = value.copy()
                value[0] = 0
                graph.initializer[index].CopyFrom(numpy_helper.from_array(value, name))
                changed.add(name)
            return
        node = producers.get(name)
        if node is not None and node.op_type in _SHAPE_OPS and depth < 4:
            for source in node.input:
                patch(source, depth + 1)

    for node in graph.node:
        if node.op_type == "Reshape" and len(node.input) == 2:
            patch(node.input[1], 0)
    return len(changed)


@dataclass(frozen=True)
class BatchCheck:
    """How a graph fared as a batch: whether it is used batched, and why (for the log)."""

    batched: bool
    reason: str


def batched_session(
    path: Path,
    single: ort.InferenceSession,
    providers: list[str],
    options: ort.SessionOptions,
    side: int,
) -> tuple[ort.InferenceSession | None, BatchCheck]:
    """A session over ``path`` made to take a batch, if two images as a batch give what they
    give one at a time through ``single`` (the file as it is); else None. ``options`` are the
    batched session's (made quiet here)."""
    options.log_severity_level = 4  # a graph that cannot take a batch is an answer here
    try:
        model = onnx.load(str(path))
        changed = free_batch(model)
        batched = ort.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=providers
        )
        name = batched.get_inputs()[0].name
        images = np.random.default_rng(7).random((2, 3, side, side), dtype=np.float32)
        together = batched.run(None, {name: images})
        apart = [single.run(None, {name: images[i : i + 1]}) for i in range(2)]
    except Exception as error:  # onnx and ORT raise their own untyped errors
        return None, BatchCheck(False, f"cannot run as a batch: {error}")
    for k, output in enumerate(together):
        shapes = [tuple(one[k].shape) for one in apart]
        if output.shape[0] != 2 or any(shape[0] != 1 for shape in shapes):
            return None, BatchCheck(False, f"output {k} does not carry the batch first")
        worst = max(float(np.max(np.abs(output[i] - apart[i][k][0]))) for i in range(2))
        if not worst <= AGREE:
            return None, BatchCheck(False, f"output {k} differs by {worst:.3g} as a batch")
    return batched, BatchCheck(True, f"{changed} reshapes made to copy the batch")
