"""The detector service's naming (the service itself runs in tests/cluster/test_cameras.py on a
real cluster): one per node and detector settings, so a changed model never reuses a service
loaded with the old one."""

from __future__ import annotations

from hearthcam.cluster.detector import PREFIX, service_name
from hearthcam.config import DetectorConfig


def settings(**detector: object) -> dict[str, object]:
    return {"detector": DetectorConfig.model_validate(detector).model_dump(mode="json")}


def test_a_service_is_named_by_its_node_and_its_detector_settings() -> None:
    default = service_name("node-a", settings())
    assert default.startswith(f"{PREFIX}node-a-")
    assert service_name("node-a", settings()) == default  # the node's cameras share it
    assert service_name("node-b", settings()) != default  # one per node
    assert service_name("node-a", settings(model="mb3-centernet-512")) != default
    assert service_name("node-a", settings(threads=2)) != default
