"""Links in the data directory, through the media routes: what a link leads out to is never
served, and deleting an event unlinks its links without touching what they point at."""

from __future__ import annotations

import shutil
from pathlib import Path

from hearthcam.recordings.event_files import delete_event_media
from hearthcam.vault.media import read_bytes
from tests.support.world import World
from tests.web.conftest import ClientFor


def test_a_clip_linked_out_of_the_data_dir_is_404_and_deleting_keeps_its_target(
    world: World, client_for: ClientFor, tmp_path: Path
) -> None:
    event = world.add_event()
    assert event.clip is not None
    owner = client_for("alice")
    url = f"/api/events/{event.id}/clip"
    assert owner.get(url).content == read_bytes(world.services.media, event.clip)
    # The very file, moved out of the data directory and linked back: its key still opens it,
    # so only the containment check stands between the link and the response.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / "clip.mp4"
    shutil.move(event.clip, moved)
    event.clip.symlink_to(moved)
    assert event.clip.resolve() == moved
    assert owner.get(url).status_code == 404
    assert owner.get(url, headers={"Range": "bytes=0-99"}).status_code == 404
    assert owner.get(f"/api/events/{event.id}/snapshot").status_code == 200
    assert delete_event_media(world.store, event.id, world.data_dir, world.services.media)
    assert not event.clip.is_symlink()
    assert moved.read_bytes()  # the link went, not what it pointed at


def test_a_clip_folder_linked_out_of_the_data_dir_is_404(
    world: World, client_for: ClientFor, tmp_path: Path
) -> None:
    event = world.add_event()
    assert event.clip is not None
    day = event.clip.parent
    outside_day = tmp_path / "elsewhere-day"
    shutil.move(day, outside_day)
    day.symlink_to(outside_day)
    assert event.clip.is_file()
    owner = client_for("alice")
    assert owner.get(f"/api/events/{event.id}/clip").status_code == 404
    assert delete_event_media(world.store, event.id, world.data_dir, world.services.media)
    assert (outside_day / event.clip.name).is_file()  # not deleted through the folder's link
