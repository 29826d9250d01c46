"""The owner's view log API beyond /api/views' proofs (test_review_api.py): whose log it is, the
clip's camera and start for each entry, and the consistency proof the page checks a checkpoint
it kept against (409 for sizes the log does not hold)."""

from __future__ import annotations

from hearthcam.viewlog import merkle
from tests.support.review_world import publish
from tests.support.world import World
from tests.web.conftest import ClientFor
from tests.web.test_review_api import take


def test_each_entry_names_its_clip_and_the_page_its_household(
    world: World, client_for: ClientFor
) -> None:
    share = publish(world)
    client, lease = take(client_for, world)
    assert client.get(str(lease["clip_url"]), headers={"Range": "bytes=0-9"}).status_code == 206
    views = client_for("alice").get("/api/views").json()
    assert views["household_id"] == world.household_a
    (item,) = views["entries"]
    assert item["camera"] == share.receipt["clip"]["camera"]
    assert item["clip_start"] == share.receipt["clip"]["start"]


def test_a_kept_checkpoint_is_proven_a_prefix_of_the_new_one(
    world: World, client_for: ClientFor
) -> None:
    publish(world)
    client, lease = take(client_for, world)
    owner = client_for("alice")
    url = str(lease["clip_url"])
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    old = owner.get("/api/views").json()["checkpoint"]
    for start in range(10, 60, 10):
        span = f"bytes={start}-{start + 9}"
        assert client.get(url, headers={"Range": span}).status_code == 206
    new = owner.get("/api/views").json()["checkpoint"]
    assert (old["size"], new["size"]) == (1, 6)
    answer = owner.get(f"/api/views/consistency?first={old['size']}&second={new['size']}")
    assert answer.status_code == 200, answer.text
    proof = [bytes.fromhex(p) for p in answer.json()["proof"]]
    old_root, new_root = bytes.fromhex(old["root"]), bytes.fromhex(new["root"])
    assert merkle.verify_consistency(1, 6, old_root, new_root, proof)
    assert owner.get("/api/views/consistency?first=6&second=7").status_code == 409
    assert owner.get("/api/views/consistency?first=7&second=6").status_code == 409
    assert owner.get("/api/views/consistency?first=0&second=99999999999999999").status_code == 422
    assert client.get("/api/views/consistency?first=0&second=1").status_code == 403
