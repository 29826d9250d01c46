"""A detector service per node (``cluster.detector_service``): one actor on each node holds the
detector's ONNX session, and the camera actors of that node send it their frames instead of each
loading a session of their own.

What it saves is one session per camera: its memory, its thread pool, and on a GPU node its GPU
context (which a process per camera cannot afford). Its cameras' requests are answered in
batches (``pipeline.batcher``): each model run takes every request that queued while the one
before it ran, up to ``MAX_BATCH``, so the batch is one frame on a quiet node and grows with the
load. The packaged NanoDet-m graph is made to take a batch when the service loads it, and kept
so only if a batch gives what single images give (``pipeline.batch_model``); a graph that does
not (MobileNetV3-CenterNet) runs its batches one image at a time. Frames reach the service
through the node's shared memory object store. ``hearthcam bench cluster`` measures what it
costs and saves (docs/scale.md).

On a node that declares a GPU the service claims one (``num_gpus``: Ray hides GPUs from an actor
that declares none) when the detector may run on CUDA (``detector.providers``); not tried on a
GPU here. The service is named by its node and the detector settings, placed on that node only,
and lives apart from the camera that started it (``detached``): the node's other cameras use it,
and a camera moved to another node uses that node's. The server kills every service when it
stops (and the leftovers of a server that died, when it starts). A service that dies alone is
started again on its node by Ray; the frames asked of it meanwhile fail like any analysis error
(counted in the camera's health) and the next ones go through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.engine import make_url

from hearthcam.config import parse_config
from hearthcam.pipeline.batcher import Batcher
from hearthcam.raylink import NAMESPACE, log_to_stderr
from hearthcam.types import BGRImage, Detections

log = logging.getLogger(__name__)

#: Every service's name starts with this (then the install's key, the node id and the detector
#: settings' digest).
PREFIX = "detector-"
#: Requests a service takes at once (they wait for the model, and are batched, in turn).
CONCURRENCY = 64
#: The most requests one model run answers (each one frame, or up to four motion crops).
MAX_BATCH = 16


class DetectorService:
    """A Ray actor: the node's detector, shared by its camera actors."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import ray

        from hearthcam.pipeline.detect import load_detector

        log_to_stderr()
        self.node = ray.get_runtime_context().get_node_id()
        self._detector = load_detector(parse_config(settings).detector, batch=MAX_BATCH)
        self._batcher = Batcher(self._detector, MAX_BATCH)
        log.info(
            "detector service starts on node %s (process %d), batches of up to %d images",
            self.node, os.getpid(), self._detector.max_batch,
        )  # fmt: skip

    def detect(self, image: BGRImage) -> Detections:
        return self._batcher.ask(image)

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        return self._batcher.ask(image, boxes)

    def stats(self) -> dict[str, Any]:
        """Its node, the requests served, the batches they took, the largest batch, the model
        runs, and the most images a run takes (1: the graph does not take a batch)."""
        batches = self._batcher.stats
        return {
            "node": self.node,
            "calls": batches.requests,
            "batches": batches.batches,
            "largest_batch": batches.largest,
            "inferences": self._detector.inferences,
            "max_batch": self._detector.max_batch,
        }


class ServiceDetector:
    """The ``Detector`` a camera actor uses with a node service: each call is a request to it."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self.inferences = 0  # requests (the service counts its model runs)

    def detect(self, image: BGRImage) -> Detections:
        import ray

        self.inferences += 1
        result: Detections = ray.get(self._service.detect.remote(image))
        return result

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        import ray

        self.inferences += 1
        result: Detections = ray.get(self._service.detect_regions.remote(image, boxes))
        return result


def install_key(settings: dict[str, Any]) -> str:
    """A short digest of an install (its database, password left out, and data directory), so
    two installs on one cluster never share or stop each other's services."""
    database = make_url(settings["database"]).render_as_string(hide_password=True)
    identity = f"{database}|{settings['data_dir']}"
    return hashlib.sha256(identity.encode()).hexdigest()[:8]


def service_name(install: str, node: str, detector: dict[str, Any]) -> str:
    """The name of ``install``'s service on ``node`` for these detector settings (changed
    settings: a new service, never one loaded with the old model)."""
    digest = hashlib.sha256(json.dumps(detector, sort_keys=True).encode()).hexdigest()[:12]
    return f"{PREFIX}{install}-{node}-{digest}"


def node_detector(settings: dict[str, Any]) -> ServiceDetector:
    """This node's detector service (started now if it is not running yet), as a Detector."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    wanted = {"detector": settings["detector"]}
    # Ray hides the GPUs from an actor that declares none: on a node with one, the service
    # claims it when the detector may run on CUDA.
    cuda = "CUDAExecutionProvider" in settings["detector"].get("providers", [])
    gpus = 1.0 if cuda and node_gpus(node) >= 1 else 0.0
    service = (
        ray.remote(DetectorService)
        .options(
            name=service_name(install_key(settings), node, wanted),
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",  # the node's other cameras use it after this one stops
            num_cpus=0,  # its work is the cameras' own, and they declared it
            num_gpus=gpus,
            max_concurrency=CONCURRENCY,
            max_restarts=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        )
        .remote(wanted)
    )
    return ServiceDetector(service)


def node_gpus(node: str) -> float:
    """The GPUs node ``node`` declares to Ray."""
    import ray

    for entry in ray.nodes():  # type: ignore[no-untyped-call]
        if entry.get("NodeID") == node:
            return float(entry.get("Resources", {}).get("GPU", 0.0))
    return 0.0


def stop_services(settings: dict[str, Any]) -> int:
    """Kills every detector service of this install (the server's stop and start); how many."""
    import ray

    mine = f"{PREFIX}{install_key(settings)}-"
    killed = 0
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry.get("namespace") == NAMESPACE and str(entry.get("name", "")).startswith(mine):
            ray.kill(ray.get_actor(entry["name"], namespace=NAMESPACE), no_restart=True)
            killed += 1
    return killed
