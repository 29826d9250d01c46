"""The annotator workbench API and the owner's "Who viewed my clips" API, over the web world.

The view log must hold an entry before any byte of a leased clip is sent (an append that fails
sends nothing); quotas, expiry, withdrawal and "should not be here" end leases as the rules say;
the owner's proofs verify with store.merkle and the checkpoint's signature.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import av
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from hearthcam.annotate.desk import lease_path
from hearthcam.errors import StoreError
from hearthcam.privacy.consent import redacted_path, share_dir
from hearthcam.vault.media import read_bytes
from hearthcam.viewlog import merkle
from hearthcam.viewlog.log import ViewEntry
from hearthcam.viewlog.signing import Checkpoint
from tests.support.review_world import publish
from tests.support.world import World
from tests.web.conftest import ClientFor


def take(client_for: ClientFor, world: World) -> tuple[TestClient, dict[str, Any]]:
    client = client_for("ann")
    answer = client.post("/api/review/leases")
    assert answer.status_code == 201, answer.text
    return client, answer.json()


def test_an_annotator_leases_streams_and_annotates(world: World, client_for: ClientFor) -> None:
    share = publish(world)
    client = client_for("ann")
    queue = client.get("/api/review/queue").json()
    assert queue == {"available": 1, "quota": 50, "taken_today": 0, "quota_left": 50,
                     "lease_id": None}  # fmt: skip
    lease = client.post("/api/review/leases").json()
    text = json.dumps(lease)
    for secret in ("front", "Front door", "Home A", share.event_id, share.id, "2023"):
        assert secret not in text  # never the camera, household, event, share or date
    assert lease["time_of_day"] in ("night", "morning", "afternoon", "evening")
    assert lease["frames"] == 20
    assert lease["duration"] == pytest.approx(2.0)
    assert lease["tracks"] == [{"label": "person", "best_score": 0.9, "hits": 12}]
    assert lease["suggested"] == "threat"
    assert lease["expires_in"] == 600
    assert lease["watermark"].startswith("ann ")
    before = world.services.audit.size()
    clip = client.get(lease["clip_url"], headers={"Range": "bytes=0-99"})
    assert clip.status_code == 206
    assert len(clip.content) == 100
    assert clip.headers["content-disposition"] == "inline"
    assert clip.headers["cache-control"] == "no-store"
    logged = world.services.audit.entries()[before:]
    assert [(e.entry.viewer_id, e.entry.clip_id, e.entry.lease_id, e.entry.byte_range,
             e.entry.derivative.value, e.entry.household_id) for e in logged] == [
        (world.user_ids["ann"], share.id, lease["id"], (0, 99), "redacted", world.household_a)
    ]  # fmt: skip
    whole = client.get(lease["clip_url"])
    assert whole.status_code == 200
    assert whole.content.startswith(clip.content)
    done = client.post(f"/api/review/leases/{lease['id']}/annotation", json={
        "verdict": "false_alarm", "reason": "shadow",
        "keyframes": [{"frame": 4, "boxes": [{"xyxy": [0.1, 0.1, 0.5, 0.9], "label": "person"}]}],
    })  # fmt: skip
    assert done.status_code == 201, done.text
    (stored,) = world.services.desk.annotations.annotations(share.id)
    assert (stored.verdict, stored.reason, stored.lease_id) == (
        "false_alarm",
        "shadow",
        lease["id"],
    )
    assert stored.keyframes[0]["boxes"][0]["label"] == "person"
    assert client.get(lease["clip_url"]).status_code == 410  # the lease ended with it
    assert not lease_path(world.data_dir, share.id, lease["id"]).exists()
    assert client.get("/api/review/queue").json()["available"] == 0  # annotated: not offered


def test_the_watermark_is_burned_into_what_the_annotator_sees(
    world: World, client_for: ClientFor
) -> None:
    share = publish(world)
    _client, lease = take(client_for, world)
    media = world.services.media
    marked = read_bytes(media, lease_path(world.data_dir, share.id, str(lease["id"])))
    clean = read_bytes(media, redacted_path(world.data_dir, share.id))

    def first_frame(data: bytes) -> np.ndarray:
        with av.open(io.BytesIO(data), "r") as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="bgr24").astype(np.int16)

    difference = np.abs(first_frame(marked) - first_frame(clean)).max(axis=2)
    assert (difference > 20).mean() > 0.03  # text strokes all over the frame, not noise


def test_nothing_is_sent_when_the_view_cannot_be_logged(
    world: World, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(world)
    client, lease = take(client_for, world)
    sent: list[ViewEntry] = []

    def broken(entry: ViewEntry) -> int:
        sent.append(entry)
        raise StoreError("disk full")

    monkeypatch.setattr(world.services.audit, "append", broken)
    answer = client.get(str(lease["clip_url"]))
    assert answer.status_code == 503
    assert answer.json() == {"detail": "the view could not be logged; nothing was sent"}
    assert b"ftyp" not in answer.content
    assert len(sent) == 1


def test_the_quota_refuses_the_next_lease(world: World, client_for: ClientFor) -> None:
    object.__setattr__(world.services.desk, "config", world.config.review.model_copy(
        update={"daily_quota": 2}))  # fmt: skip
    client = client_for("ann")
    for _ in range(3):
        publish(world)
    for _ in range(2):
        lease = client.post("/api/review/leases").json()
        assert client.post(f"/api/review/leases/{lease['id']}/release").status_code == 204
    refused = client.post("/api/review/leases")
    assert refused.status_code == 409
    assert "quota" in refused.json()["detail"]
    assert client.get("/api/review/queue").json()["quota_left"] == 0
    world.clock.advance(86400)  # a new UTC day (and a new login: sessions are shorter)
    assert client_for("ann").post("/api/review/leases").status_code == 201


def test_one_lease_at_a_time_and_an_empty_queue(world: World, client_for: ClientFor) -> None:
    client = client_for("ann")
    assert client.post("/api/review/leases").status_code == 409  # nothing published
    publish(world)
    publish(world)
    lease = client.post("/api/review/leases").json()
    assert client.post("/api/review/leases").status_code == 409  # holding one
    assert client.get("/api/review/queue").json()["lease_id"] == lease["id"]


def test_an_expired_lease_streams_nothing(world: World, client_for: ClientFor) -> None:
    share = publish(world)
    client, lease = take(client_for, world)
    world.clock.advance(601)
    assert client.get(str(lease["clip_url"])).status_code == 410
    assert client.get(f"/api/review/leases/{lease['id']}").json()["state"] == "expired"
    assert not lease_path(world.data_dir, share.id, str(lease["id"])).exists()
    body = {"verdict": "pet"}
    assert client.post(f"/api/review/leases/{lease['id']}/annotation", json=body).status_code == 410


def test_withdrawal_revokes_the_lease_and_deletes_annotations(
    world: World, client_for: ClientFor
) -> None:
    earlier = publish(world)
    share = publish(world)
    desk = world.services.desk
    # An annotation of the share from an earlier lease (bob's clip would be another household).
    first = desk.take(world.user_ids["ann"], "ann", world.clock())
    assert first.share_id == earlier.id
    desk.release(first, world.clock())
    client, lease = take(client_for, world)
    assert lease["id"] != first.id
    current = desk.annotations.lease(str(lease["id"]))
    assert current is not None
    assert current.share_id == share.id
    copy = lease_path(world.data_dir, share.id, str(lease["id"]))
    assert copy.is_file()
    done = client_for("alice").delete(f"/api/shares/{share.id}")
    assert done.status_code == 200
    assert "1 annotator lease revoked" in done.json()["actions"]
    assert desk.annotations.lease(str(lease["id"])).state == "revoked"  # type: ignore[union-attr]
    assert not copy.exists()
    assert not share_dir(world.data_dir, share.id).exists()
    assert client.get(str(lease["clip_url"])).status_code == 410


def test_withdrawal_deletes_submitted_annotations(world: World, client_for: ClientFor) -> None:
    share = publish(world)
    client, lease = take(client_for, world)
    body = {"verdict": "benign_person"}
    assert client.post(f"/api/review/leases/{lease['id']}/annotation", json=body).status_code == 201
    assert world.services.desk.annotations.annotations(share.id)
    done = client_for("alice").delete(f"/api/shares/{share.id}").json()
    assert "1 annotation deleted" in done["actions"]
    assert world.services.desk.annotations.annotations(share.id) == []


def test_should_not_be_here_disposes_of_the_share(world: World, client_for: ClientFor) -> None:
    share = publish(world)
    client, lease = take(client_for, world)
    answer = client.post(f"/api/review/leases/{lease['id']}/report")
    assert answer.status_code == 200
    assert answer.json() == {"disposed": True}
    record = world.services.sharing.shares.get(share.id)
    assert record is not None
    assert record.status == "disposed"
    assert not share_dir(world.data_dir, share.id).exists()
    assert client.get(str(lease["clip_url"])).status_code == 410
    assert client.get("/api/review/queue").json()["available"] == 0


def test_another_annotators_lease_does_not_exist(world: World, client_for: ClientFor) -> None:
    publish(world)
    _client, lease = take(client_for, world)
    from hearthcam.accounts import Role
    from tests.support.world import _enroll

    _enroll(world, "ann2", Role.ANNOTATOR)
    other = client_for("ann2")
    for path in (f"/api/review/leases/{lease['id']}", str(lease["clip_url"])):
        assert other.get(path).status_code == 404
    assert other.get("/api/review/leases/" + "0" * 32).status_code == 404


def test_bad_annotations_are_refused(world: World, client_for: ClientFor) -> None:
    publish(world)
    client, lease = take(client_for, world)
    url = f"/api/review/leases/{lease['id']}/annotation"
    for body in (
        {"verdict": "false_alarm"},
        {"verdict": "pet", "reason": "rain"},
        {"verdict": "pet", "keyframes": [{"frame": 1, "boxes": [{"xyxy": [0.5, 0, 0.1, 1],
                                                                 "label": "cat"}]}]},
        {"verdict": "nope"},
    ):  # fmt: skip
        assert client.post(url, json=body).status_code == 422, body


def test_the_owner_sees_every_view_with_proofs_that_verify(
    world: World, client_for: ClientFor
) -> None:
    share = publish(world)
    client, lease = take(client_for, world)
    for span in ("bytes=0-9", "bytes=10-"):
        assert client.get(str(lease["clip_url"]), headers={"Range": span}).status_code == 206
    page = client_for("alice").get("/api/views")
    assert page.status_code == 200
    views = page.json()
    cp = views["checkpoint"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(views["public_key"]))
    checkpoint = Checkpoint(cp["size"], bytes.fromhex(cp["root"]), cp["time_ms"],
                            base64.b64decode(cp["signature"]))  # fmt: skip
    assert checkpoint.signed_by(key)
    assert len(views["entries"]) == 2
    for item in views["entries"]:
        data = base64.b64decode(item["entry"])
        proof = [bytes.fromhex(p) for p in item["proof"]]
        leaf = merkle.leaf_hash(data)
        assert merkle.verify_inclusion(item["index"], cp["size"], leaf, proof, checkpoint.root)
        entry = json.loads(data)
        assert (entry["clip"], entry["lease"], entry["derivative"]) == (share.id, lease["id"],
                                                                        "redacted")  # fmt: skip
        assert item["viewer"] == "ann"
        assert item["event_id"] == share.event_id
    assert client_for("bob").get("/api/views").json()["entries"] == []  # not his clips
    assert client_for("mia").get("/api/views").status_code == 403


def test_flags_reach_the_admin_and_the_owner(world: World, client_for: ClientFor) -> None:
    object.__setattr__(world.services.config, "review", world.config.review.model_copy(
        update={"daily_quota": 1, "quota_factor": 1.0}))  # fmt: skip
    client = client_for("ann")
    for _ in range(2):
        publish(world)
        lease = client.post("/api/review/leases").json()
        assert client.get(lease["clip_url"]).status_code == 200
        client.post(f"/api/review/leases/{lease['id']}/release")
        object.__setattr__(world.services.desk, "config", world.config.review.model_copy(
            update={"daily_quota": 50}))  # fmt: skip
    flags = client_for("ada").get("/api/review/flags").json()
    assert [(f["kind"], f["viewer"], f["views"]) for f in flags] == [("over_quota", "ann", 2)]
    owner = client_for("alice").get("/api/views").json()["flags"]
    assert [f["kind"] for f in owner] == ["over_quota"]
    assert client_for("bob").get("/api/views").json()["flags"] == []
    assert client_for("alice").get("/api/review/flags").status_code == 403
