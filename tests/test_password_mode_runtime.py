"""A password-mode household keeps recording while locked; its clips are cut after the unlock.

Real live path over a real people scene, real sealed media and SQLite: the recording runs in a
process where nobody has unlocked the household (a fresh keyring), so segments and snapshots are
written (to the household's public key) but no clip can be cut; the clip windows wait in the
store and a later runtime cuts them once the owner's password opens the key.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import av
import pytest
from typer.testing import CliRunner

from hearthcam import analysis, app
from hearthcam.accounts import Accounts
from hearthcam.cli import cli
from hearthcam.config import parse_config
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.runtime import RemoteCameras
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClips
from hearthcam.types import Change, Event
from hearthcam.vault.keyring import Keyring
from hearthcam.vault.media import SealedMedia
from hearthcam.vault.sealed import plaintext_media_signatures
from tests.conftest import SceneFile

PASSWORD = "a long household passphrase"


@pytest.mark.integration
def test_locked_household_records_and_its_clips_are_cut_after_unlock(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    config = parse_config({"data_dir": str(data), "cameras": {"cam": {"inputs": [{"path": "x"}]}}})
    data.mkdir()
    with Store.open(config.database_url) as store:
        owner = Accounts(store).setup("owner", PASSWORD, "Home", ["cam"], time.time())
        assert owner.household_id is not None
        household = owner.household_id
        keyring = Keyring.open(store, data)
        keyring.ensure_household(household)
        keyring.enable_password(household, PASSWORD)

    events = analysis.analyze(str(people_scene.path), config)  # a new process: locked
    assert events, "the people scene makes events"
    assert all(e.clip is None for e in events)
    assert all(e.snapshot is not None for e in events)  # written to the public key
    assert plaintext_media_signatures(data) == []
    config_file = tmp_path / "hearthcam.yaml"
    config_file.write_text(f"data_dir: {data}\n")
    export = ["media", "export", events[0].id, "--snapshot", "-o", str(tmp_path / "s.jpg"),
              "--password-stdin", "--config", str(config_file)]  # fmt: skip
    wrong = CliRunner().invoke(cli, export, input="not the password\n")
    assert wrong.exit_code == 2
    assert "that password does not open its household" in wrong.output
    right = CliRunner().invoke(cli, export, input=PASSWORD + "\n")
    assert right.exit_code == 0, right.output
    assert (tmp_path / "s.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, decrypted

    runtime = app.build(config, detector=ScriptedDetector([]))
    try:
        pending = PendingClips(runtime.store)
        assert {p.event_id for p in pending.of_camera("cam")} == {e.id for e in events}
        assert runtime.store.segments_between("cam", 0, float("inf"))  # recording never stopped
        runtime.cut_pending_clips()  # still locked: nothing can be cut, nothing is lost
        runtime.clip_pool.submit(lambda: None).result()
        assert len(pending.of_camera("cam")) == len(events)
        assert isinstance(runtime.media, SealedMedia)
        runtime.media.vault.keyring.unlock(household, PASSWORD)
        runtime.cut_pending_clips(household)
    finally:
        runtime.close()  # waits for the clip pool
    try:
        assert pending.of_camera("cam") == []
        for event in events:
            stored = runtime.store.get_event(event.id)
            assert stored is not None
            assert stored.clip is not None
            with runtime.media.open(stored.clip) as file, av.open(file, "r") as container:
                assert sum(1 for _ in container.decode(video=0)) > 0
        assert plaintext_media_signatures(data) == []
    finally:
        runtime.store.close()


class ElsewhereCameras:
    """The cluster's cameras as the runtime sees them (``RemoteCameras``), for what this test
    walks: their actors hold no password-mode key, so what they are told to cut stays pending."""

    def __init__(self) -> None:
        self.told_to_cut = 0

    def cut_pending(self) -> None:
        self.told_to_cut += 1

    def needed_from(self) -> float | None:
        return None

    def waiting_for_space(self) -> list[object]:
        return []

    def close(self) -> None:
        pass


@pytest.mark.integration
def test_a_locked_households_clips_of_cluster_cameras_are_cut_by_the_server_after_unlock(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    # Before: with cameras as Ray actors, the unlock told the actors to cut, which hold no
    # password-mode key: the clips waited for as long as the cameras ran on the cluster.
    data = tmp_path / "data"
    config = parse_config({"data_dir": str(data), "cameras": {"cam": {"inputs": [{"path": "x"}]}}})
    data.mkdir()
    with Store.open(config.database_url) as store:
        owner = Accounts(store).setup("owner", PASSWORD, "Home", ["cam"], time.time())
        assert owner.household_id is not None
        household = owner.household_id
        keyring = Keyring.open(store, data)
        keyring.ensure_household(household)
        keyring.enable_password(household, PASSWORD)
    events = analysis.analyze(str(people_scene.path), config)  # recorded while locked
    assert events
    assert all(e.clip is None for e in events)

    # The server: the camera's pipeline is not here (an actor on the cluster runs it).
    elsewhere_config = parse_config(
        {"data_dir": str(data), "cameras": {"cam": {"inputs": [{"path": "x"}], "enabled": False}}}
    )
    runtime = app.build(elsewhere_config, detector=ScriptedDetector([]))
    told: list[tuple[Change, Event]] = []

    def hear(change: Change, event: Event) -> None:
        told.append((change, event))

    assert runtime.parts is not None
    runtime.parts = replace(runtime.parts, listeners=[*runtime.parts.listeners, hear])
    elsewhere = ElsewhereCameras()
    runtime.remote = cast(RemoteCameras, elsewhere)
    assert runtime.pipelines == {}
    try:
        pending = PendingClips(runtime.store)
        runtime.cut_pending_clips()  # still locked: nothing cut, nothing lost
        runtime.clip_pool.submit(lambda: None).result()
        assert len(pending.of_camera("cam")) == len(events)
        assert isinstance(runtime.media, SealedMedia)
        runtime.media.vault.keyring.unlock(household, PASSWORD)
        runtime.cut_pending_clips(household)
        runtime.clip_pool.submit(lambda: None).result()
    finally:
        runtime.close()
    try:
        assert elsewhere.told_to_cut == 2  # the nodes still hear it (clips waiting for space)
        assert pending.of_camera("cam") == []
        for event in events:
            stored = runtime.store.get_event(event.id)
            assert stored is not None
            assert stored.clip is not None
            with runtime.media.open(stored.clip) as file, av.open(file, "r") as container:
                assert sum(1 for _ in container.decode(video=0)) > 0
        # The app heard of each clip as from the camera's own pipeline.
        assert {e.id for c, e in told if c is Change.UPDATED and e.clip is not None} == {
            e.id for e in events
        }
    finally:
        runtime.store.close()
