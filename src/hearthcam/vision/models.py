"""The model files the vision stages run, and ONNX Runtime sessions over them.

CenterFace and nsfwjs ship inside hearthcam's package; NudeNet 320n is read from the installed
``nudenet`` package (its code is not used). Nothing is ever downloaded: a missing or unreadable
file is a ``ModelError`` that names it.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import onnxruntime as ort

from hearthcam.errors import ModelError

# The detector's session builder: threads sleep instead of spinning, providers fall back to CPU.
from hearthcam.pipeline.detect import choose_providers, open_onnx_session


@dataclass(frozen=True, slots=True)
class ModelFile:
    """Where a model file lives: a file name inside an installed Python package."""

    package: str
    name: str

    def locate(self) -> Traversable:
        """The file as an importlib resource; ModelError if its package is not installed."""
        if importlib.util.find_spec(self.package) is None:
            raise ModelError(
                f"model {self.name} comes with the Python package {self.package!r}, "
                "which is not installed"
            )
        resource = importlib.resources.files(self.package).joinpath(self.name)
        if not resource.is_file():
            raise ModelError(f"model file {self.name} is missing from package {self.package!r}")
        return resource


CENTERFACE = ModelFile("hearthcam", "models/centerface.onnx")
NSFWJS = ModelFile("hearthcam", "models/nsfwjs-mobilenet-v2.onnx")
NUDENET_320N = ModelFile("nudenet", "320n.onnx")


def open_model(
    model: ModelFile | Traversable, threads: int = 0, providers: Sequence[str] = ("CPU",)
) -> ort.InferenceSession:
    """An ONNX Runtime session over a model file; ModelError if missing or not a model."""
    resource = model.locate() if isinstance(model, ModelFile) else model
    # as_file gives a real path even from a zipped install; the session has read it on return.
    with importlib.resources.as_file(resource) as path:
        return open_onnx_session(path, choose_providers(providers), threads)


def input_of(session: ort.InferenceSession, rank: int) -> str:
    """The name of a session's one float input of the given rank (ModelError otherwise)."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)" or len(inputs[0].shape) != rank:
        found = [(i.name, i.type, i.shape) for i in inputs]
        raise ModelError(f"expected one float input of rank {rank}, the model has {found}")
    return str(inputs[0].name)
