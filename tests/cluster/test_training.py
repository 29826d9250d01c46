"""Trainings as Ray tasks on a real cluster (issue 15): a head and a second node started with
``ray start`` as separate processes in a loopback-only network namespace, the database on a real
PostgreSQL server. A training runs on a node of the cluster, registers and promotes its model in
the database and writes its file under the shared data directory; a training the data cannot
support is refused with the same error as in one process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hearthcam.app import open_media
from hearthcam.learn.registry import ModelRegistry
from hearthcam.privacy.consent import Sharing
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from tests.learn.test_retrain import Home, annotate
from tests.learn.test_train import world as toy_world
from tests.support.postgres import new_database
from tests.support.required import require

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _install(tmp_path: Path, name: str, url: str, examples: int) -> Path:
    """A data directory on ``url`` holding ``examples`` annotated shared events; its config."""
    data = tmp_path / name
    data.mkdir()
    with Store.open(url, data_dir=data) as store:
        registry = ModelRegistry(store, data)
        media = open_media(store, data)
        sharing = Sharing(ShareStore(store), data, listeners=[registry], media=media)
        if examples:
            events, truth = toy_world(examples, seed=7)
            annotate(Home(data, store, registry, sharing, []), events, truth, households=5)
    config = tmp_path / f"{name}.yaml"
    settings = {"data_dir": str(data), "database": url,
                "cluster": {"engine": "ray", "address": "127.0.0.1:1"}}  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    return config


def test_a_training_runs_on_the_cluster_and_its_model_is_served(
    tmp_path: Path, postgres_host: str, postgres_template: str
) -> None:
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    empty_url = new_database(postgres_host, postgres_template)
    full_url = new_database(postgres_host, postgres_template)
    empty = _install(tmp_path, "empty", empty_url, 0)
    full = _install(tmp_path, "full", full_url, 160)
    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.cluster_train", str(out), str(empty), str(full)]
    done = in_loopback_namespace(argv, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-5000:]
    report: dict[str, Any] = json.loads(out.read_text())

    refused, trained = report["runs"]
    # Refused on its node for the data's sake: the same error as in one process, not Ray's.
    assert refused["error"] == "TrainingError"
    assert "fewer than two different verdicts" in refused["message"]
    # Trained on a node of the cluster, registered and served from the shared database/media.
    assert trained["where"].split("/")[0] in set(report["nodes"].values())
    assert trained["promoted"] is True
    assert trained["train"] + trained["test"] == 160
    with Store.open(full_url, data_dir=tmp_path / "full") as store:
        registry = ModelRegistry(store, tmp_path / "full")
        served = registry.served()
        assert served is not None
        assert served.id == trained["model"]
        assert registry.file_of(served.id).is_file()
        assert len(served.clips) == 160  # its lineage: every clip it learned from
