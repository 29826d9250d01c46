"""Tests for the data directory's layout and its one containment check, on a real file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hearthcam.layout import (
    OutsideDataDir,
    contained,
    media_path,
    outside,
    parse_segment_path,
    segment_path,
    stored_path,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``data/`` (the root, with clips/cam/a.mp4) beside ``elsewhere/`` (secret.txt)."""
    (tmp_path / "data" / "clips" / "cam").mkdir(parents=True)
    (tmp_path / "data" / "clips" / "cam" / "a.mp4").write_bytes(b"clip")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.txt").write_bytes(b"secret")
    return tmp_path


def both(path: Path, root: Path) -> tuple[Path | None, Path | None]:
    """(links followed, last name not followed)."""
    return contained(path, root), contained(path, root, follow_links=False)


def test_a_file_inside_is_contained_either_way(tree: Path) -> None:
    data = tree / "data"
    clip = data / "clips" / "cam" / "a.mp4"
    assert both(clip, data) == (clip, clip)
    assert both(tree / "elsewhere" / "secret.txt", data) == (None, None)


def test_a_link_to_a_file_outside_is_outside_to_read_but_inside_to_unlink(tree: Path) -> None:
    data = tree / "data"
    link = data / "clips" / "cam" / "b.mp4"
    link.symlink_to(tree / "elsewhere" / "secret.txt")
    assert contained(link, data) is None  # reading it would read the secret
    assert contained(link, data, follow_links=False) == link  # unlinking removes only the link


def test_a_link_to_a_folder_outside_takes_everything_under_it_outside(tree: Path) -> None:
    data = tree / "data"
    (data / "clips" / "out").symlink_to(tree / "elsewhere")
    through = data / "clips" / "out" / "secret.txt"
    assert through.is_file()
    assert both(through, data) == (None, None)  # deleting it would delete the secret
    assert both(data / "clips" / "out" / "new.mp4", data) == (None, None)
    assert contained(data / "clips" / "out", data) is None
    assert contained(data / "clips" / "out", data, follow_links=False) == data / "clips" / "out"


def test_a_link_inside_to_inside_is_inside_at_its_target(tree: Path) -> None:
    data = tree / "data"
    clip = data / "clips" / "cam" / "a.mp4"
    (data / "alias.mp4").symlink_to(clip)
    (data / "folder").symlink_to(data / "clips")
    assert both(data / "alias.mp4", data) == (clip, data / "alias.mp4")
    assert both(data / "folder" / "cam" / "a.mp4", data) == (clip, clip)


def test_dot_dot_is_resolved_against_the_real_folders(tree: Path) -> None:
    data = tree / "data"
    assert both(data / "clips" / ".." / ".." / "elsewhere" / "secret.txt", data) == (None, None)
    assert both(data / "clips" / "..", data) == (data, data)
    assert both(data / "..", data) == (None, None)
    assert (
        both(data / "clips" / "cam" / ".." / "cam" / "a.mp4", data)
        == (data / "clips" / "cam" / "a.mp4",) * 2
    )
    # Through a link, ".." is the parent of the link's target, not the folder holding the link.
    (data / "clips" / "up").symlink_to(tree / "elsewhere")
    assert both(data / "clips" / "up" / ".." / "data" / "x", data) == (data / "x", data / "x")
    assert both(data / "clips" / "up" / ".." / "elsewhere", data) == (None, None)
    # A name that only starts like the root is not under it.
    (tree / "data-old").mkdir()
    assert both(tree / "data-old" / "x", data) == (None, None)


def test_a_relative_path_is_taken_from_the_working_directory(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree / "data" / "clips")
    data = tree / "data"
    assert both(Path("cam/a.mp4"), data) == (data / "clips" / "cam" / "a.mp4",) * 2
    assert both(Path("../../elsewhere/secret.txt"), data) == (None, None)
    assert both(Path(".."), data) == (data, data)
    # A relative root works the same way.
    assert contained(data / "clips", Path("..")) == data / "clips"


def test_the_root_itself_is_contained(tree: Path) -> None:
    data = tree / "data"
    assert both(data, data) == (data, data)
    assert both(Path(f"{data}/"), data) == (data, data)


def test_a_root_that_is_a_link_is_its_target(tree: Path) -> None:
    data = tree / "data"
    (tree / "link-to-data").symlink_to(data)
    root = tree / "link-to-data"
    assert both(root / "clips" / "cam" / "a.mp4", root) == (data / "clips" / "cam" / "a.mp4",) * 2
    assert both(data / "clips", root) == (data / "clips",) * 2


def test_a_path_that_does_not_exist_is_placed_by_its_folders(tree: Path) -> None:
    data = tree / "data"
    new = data / "clips" / "cam" / "2024-01-01" / "new.mp4"
    assert both(new, data) == (new, new)
    assert both(tree / "nowhere" / "new.mp4", data) == (None, None)


def test_a_dangling_link_counts_where_it_points(tree: Path) -> None:
    data = tree / "data"
    out = data / "clips" / "dangling-out.mp4"
    out.symlink_to(tree / "elsewhere" / "not-yet.mp4")
    assert contained(out, data) is None  # writing through it would create the file outside
    assert contained(out, data, follow_links=False) == out
    into = tree / "elsewhere" / "dangling-in.mp4"
    into.symlink_to(data / "clips" / "not-yet.mp4")
    assert contained(into, data) == data / "clips" / "not-yet.mp4"
    assert contained(into, data, follow_links=False) is None


def test_a_link_loop_is_never_contained(tree: Path) -> None:
    data = tree / "data"
    (data / "loop").symlink_to(data / "loop")
    assert contained(data / "loop", data) is None
    assert contained(data / "loop" / "x", data, follow_links=False) is None


def test_exports_are_refused_inside_the_root_even_through_a_link(tree: Path) -> None:
    data = tree / "data"
    assert outside(tree / "elsewhere" / "copy.mp4", data)
    assert outside(tree / "elsewhere", data)
    assert not outside(data / "copy.mp4", data)
    assert not outside(data, data)
    assert not outside(data / "clips" / ".." / "copy.mp4", data)
    # A link outside that points in: the write would land inside.
    (tree / "elsewhere" / "in.mp4").symlink_to(data / "clips" / "cam" / "a.mp4")
    assert not outside(tree / "elsewhere" / "in.mp4", data)
    (tree / "elsewhere" / "dangling.mp4").symlink_to(data / "clips" / "new.mp4")
    assert not outside(tree / "elsewhere" / "dangling.mp4", data)
    (tree / "into").symlink_to(data / "clips")
    assert not outside(tree / "into" / "copy.mp4", data)
    # A link inside that points out: the directory entry is inside the data directory.
    (data / "out").symlink_to(tree / "elsewhere" / "copy2.mp4")
    assert not outside(data / "out", data)
    # A second hard link's other name may be inside: refused.
    os.link(data / "clips" / "cam" / "a.mp4", tree / "elsewhere" / "hard.mp4")
    assert not outside(tree / "elsewhere" / "hard.mp4", data)
    assert outside(tree / "elsewhere" / "secret.txt", data)


def test_segment_paths_round_trip(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    path = segment_path(recordings, "front", 1_700_000_000.25)
    assert path == recordings / "front" / "2023-11-14" / "22-13-20.250.mp4"
    assert parse_segment_path(recordings, path) == ("front", 1_700_000_000.25)
    with pytest.raises(ValueError, match="not a segment path"):
        parse_segment_path(recordings, recordings / "front" / "x.mp4")


def test_a_stored_path_is_relative_posix_and_reads_back_under_the_data_directory(
    tree: Path,
) -> None:
    data = tree / "data"
    clip = data / "clips" / "cam" / "a.mp4"
    assert stored_path(clip, data) == "clips/cam/a.mp4"
    assert media_path("clips/cam/a.mp4", data) == clip
    moved = tree / "moved"
    assert media_path("clips/cam/a.mp4", moved) == moved / "clips" / "cam" / "a.mp4"
    link = tree / "data-link"
    link.symlink_to(data)  # a data directory that is a link names its files the same way
    assert stored_path(link / "clips" / "cam" / "a.mp4", link) == "clips/cam/a.mp4"


def test_stored_paths_that_escape_are_refused(tree: Path) -> None:
    data = tree / "data"
    (data / "out").symlink_to(tree / "elsewhere")
    for path in (tree / "elsewhere" / "secret.txt", data, data / "out" / "secret.txt"):
        with pytest.raises(OutsideDataDir):
            stored_path(path, data)
    for stored in ("", ".", "../elsewhere/secret.txt", "clips/../../x", "out/secret.txt", "/etc"):
        with pytest.raises(OutsideDataDir):
            media_path(stored, data)
    assert (
        media_path(str(data / "clips" / "cam" / "a.mp4"), data) == data / "clips" / "cam" / "a.mp4"
    )
