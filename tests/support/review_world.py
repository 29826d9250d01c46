"""Helpers of the workbench tests: a published shared clip (its redacted copy stored through the
world's media I/O, as the machine checks would leave it) and a lease of it."""

from __future__ import annotations

from hearthcam.privacy.consent import redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.annotations import LeaseRecord
from hearthcam.store.shares import ShareRecord
from hearthcam.vault.media import write_bytes
from tests.support.world import World


def publish(world: World, camera: str = "front") -> ShareRecord:
    """Alice shares a new event's clip and it passes the checks (the redacted copy is the clip:
    the checks themselves are privacy.review's tests)."""
    share = world.add_share(world.add_event(camera))
    shares, now = world.services.sharing.shares, world.clock()
    target = redacted_path(world.data_dir, share.id)
    write_bytes(world.services.media, target, share.camera, world.clip_source.read_bytes())
    assert shares.set_status(share.id, ShareStatus.CONSENTED.value, "checking", now)
    assert shares.set_status(share.id, "checking", ShareStatus.PUBLISHED.value, now)
    published = shares.get(share.id)
    assert published is not None
    return published


def free_annotator(world: World, username: str = "ann") -> None:
    """Ends whatever lease the annotator holds, so they may take a new one."""
    desk, user = world.services.desk, world.user_ids[username]
    desk.expire_due(world.clock())
    for lease in desk.annotations.leases(state="active", annotator_id=user):
        desk.release(lease, world.clock())


def lease_for(world: World, username: str = "ann") -> LeaseRecord:
    """A fresh lease of a newly published clip for the annotator."""
    free_annotator(world, username)
    publish(world)
    return world.services.desk.take(world.user_ids[username], username, world.clock())
