"""The detector service's naming (the service itself runs in tests/cluster/test_cameras.py on a
real cluster): one per node and detector settings, so a changed model never reuses a service
loaded with the old one."""

from __future__ import annotations

from typing import Any

from hearthcam.cluster.detector import PREFIX, install_key, service_name
from hearthcam.config import DetectorConfig

PG = "postgresql+psycopg://hearthcam:{}@db.example/hearthcam"


def detector(**fields: object) -> dict[str, Any]:
    return {"detector": DetectorConfig.model_validate(fields).model_dump(mode="json")}


def test_a_service_is_named_by_its_install_node_and_detector_settings() -> None:
    home = install_key({"database": PG.format("secret"), "data_dir": "/srv/a"})
    default = service_name(home, "node-a", detector())
    assert default.startswith(f"{PREFIX}{home}-node-a-")
    assert service_name(home, "node-a", detector()) == default  # the node's cameras share it
    assert service_name(home, "node-b", detector()) != default  # one per node
    assert service_name(home, "node-a", detector(model="mb3-centernet-512")) != default
    assert service_name(home, "node-a", detector(threads=2)) != default
    # Another install on the same cluster has its own (and stops only its own).
    other = install_key({"database": PG.format("secret"), "data_dir": "/srv/b"})
    assert other != home
    assert not service_name(other, "node-a", detector()).startswith(f"{PREFIX}{home}-")
    # The database password is not part of the key (nor of any name Ray lists).
    assert install_key({"database": PG.format("changed"), "data_dir": "/srv/a"}) == home
