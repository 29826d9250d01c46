"""The store's side of media paths: rows hold them relative to the data directory, callers get
and give absolute ``Path``s.

Four columns name media files: ``segments.path``, ``events.clip`` (with ``events.clip_parts``,
a list of the same) and ``events.snapshot``. They
hold ``layout.stored_path`` values (relative, POSIX), so a data directory moved or restored
elsewhere keeps its clips once the config names its new place. A value that escapes the data
directory (``layout.media_path`` refuses it: a tampered row, or an absolute path the upgrade
could not place) is never handed out: an event reads it as "no such file", a segment query
leaves the row out; each such value is logged once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hearthcam.errors import StoreError
from hearthcam.layout import OutsideDataDir, media_path, stored_path

log = logging.getLogger(__name__)


class MediaPaths:
    """Converts media paths between rows and callers for one data directory (None: this store
    was opened for rows that name no media, and any media path raises StoreError)."""

    def __init__(self, data_dir: Path | None) -> None:
        self._data_dir = None if data_dir is None else data_dir.expanduser().absolute()
        self._refused: set[str] = set()

    @property
    def data_dir(self) -> Path:
        """The data directory the rows' paths are relative to."""
        if self._data_dir is None:
            raise StoreError(
                "this store was opened without a data directory, so it cannot read or write"
                " media paths (Store.open(url, data_dir=...))"
            )
        return self._data_dir

    def to_row(self, path: Path) -> str:
        """The value a row stores for ``path``; OutsideDataDir if it is not inside."""
        return stored_path(path, self.data_dir)

    def to_optional_row(self, path: Path | None) -> str | None:
        """``to_row``, None kept."""
        return None if path is None else self.to_row(path)

    def to_rows(self, paths: list[Path]) -> list[str]:
        """The row values of the ``paths`` inside the data directory (no row names another)."""
        rows = []
        for path in paths:
            try:
                rows.append(self.to_row(path))
            except OutsideDataDir:
                continue
        return rows

    def from_row(self, stored: str | None) -> Path | None:
        """The file a row's value names, under the data directory; None for None and for a value
        that escapes it (logged once)."""
        if stored is None:
            return None
        try:
            return media_path(stored, self.data_dir)
        except OutsideDataDir as error:
            if stored not in self._refused:
                self._refused.add(stored)
                log.warning("ignoring a stored media path: %s", error)
            return None
