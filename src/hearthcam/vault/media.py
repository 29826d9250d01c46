"""The one way media bytes reach the disk and come back: plain files, or sealed under the vault.

Every writer and reader of media (recorder, clips, snapshots, derivatives, shared copies, the web
app, retention, recovery) goes through a ``MediaIO``, so whether the data directory holds plain
or encrypted files is decided once, in the composition root. Both kinds behave alike:

* ``create(path, camera)`` returns a write-only, *non-seekable* binary file. Its bytes go to
  ``<path>.part``; ``close()`` makes the file durable and renames it into place; ``abort()`` or
  leaving a ``with`` block by an exception removes it. Muxers must write fragmented MP4
  (``movflags=frag_keyframe+empty_moov+default_base_moof``) or mux into memory first.
* ``open(path)`` returns a readable, seekable binary file of the plaintext.
* ``delete(paths)`` destroys files for good (sealed: their keys first, so copies left anywhere
  are noise), unfinished ``.part`` copies included, whether or not the files still exist.

``SealedMedia`` picks each camera's household (``household_of``) when a file is created; a
camera nobody owns records under ``UNOWNED`` (a server-mode household). When a camera's
household changes (first setup, adoption, an admin's reassignment), the next file it creates
first moves the keys of its older files to the new household (``rehome_camera``), so no route
that assigns cameras needs to know about keys.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self

from hearthcam import mp4
from hearthcam.errors import StoreError
from hearthcam.layout import PART_SUFFIX
from hearthcam.vault.keyring import SECRET_FILE, KeyringError, MediaVault
from hearthcam.vault.sealed import MAGIC, SALVAGE_SUFFIX, FrontToBack

# Household ids of the accounts table start at 1: 0 holds the keys of cameras nobody owns.
UNOWNED: Final = 0
SECRET_DIR: Final = SECRET_FILE.parts[0]

log = logging.getLogger(__name__)


class MediaWriter(Protocol):
    """A new media file being written (see the module docstring for its rules)."""

    path: Path

    @property
    def closed(self) -> bool:
        """Whether the file was finished or aborted."""
        ...

    def writable(self) -> bool:
        """Always True."""
        ...

    def readable(self) -> bool:
        """Always False."""
        ...

    def seekable(self) -> bool:
        """Always False."""
        ...

    def tell(self) -> int:
        """Bytes written so far."""
        ...

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Appends ``data``."""
        ...

    def flush(self) -> None:
        """Hands buffered bytes on (durability comes with ``close``)."""
        ...

    def close(self) -> None:
        """Finishes the file: durable, then renamed into place (idempotent)."""
        ...

    def abort(self) -> None:
        """Drops the unfinished file (idempotent)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class MediaReader(Protocol):
    """A finished media file's plaintext, seekable."""

    def readable(self) -> bool:
        """Always True."""
        ...

    def seekable(self) -> bool:
        """Always True."""
        ...

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes from the position (all the rest when negative)."""
        ...

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Moves the position."""
        ...

    def tell(self) -> int:
        """The position."""
        ...

    def close(self) -> None:
        """Closes the file."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool | None: ...


class MediaIO(Protocol):
    """Creates, opens and deletes media files under one data directory."""

    @property
    def sealed(self) -> bool:
        """Whether files are encrypted at rest."""
        ...

    def create(self, path: Path, camera: str) -> MediaWriter:
        """A writer of a new file at ``path`` (footage of ``camera``); replaces any older one."""
        ...

    def open(self, path: Path) -> MediaReader:
        """A reader of a finished file (FileNotFoundError if none; sealed: ``NoMediaKey`` when
        its key was shredded, ``HouseholdLocked`` when its household needs the password)."""
        ...

    def size(self, path: Path) -> int:
        """A finished file's plaintext size in bytes."""
        ...

    def delete(self, paths: Iterable[Path]) -> int:
        """Destroys files (and their unfinished ``.part`` copies); returns how many it found.

        Raises StoreError if a file could not be removed (sealed: its key is gone already).
        """
        ...

    def known(self, folder: Path, prefix: str) -> list[Path]:
        """Files in ``folder`` whose names start with ``prefix`` that exist or still have a
        key (so a deletion can destroy the key of a file already gone), sorted."""
        ...

    def salvage(self, part: Path) -> int:
        """Finishes what a killed writer left in a fragmented-MP4 ``.part``: its whole
        top-level boxes become the finished file. Returns the bytes kept; with none kept the
        ``.part`` goes (with its key)."""
        ...

    def migrate(self) -> int:
        """Start-up: seals the plain media files left from before encryption was on (plain:
        nothing to do); returns how many."""
        ...

    def settle(self) -> None:
        """Start-up and end-of-batch housekeeping: sealed, the keys of vanished files are
        destroyed and the key database is scrubbed (no deleted key survives in its WAL)."""
        ...


def write_bytes(media: MediaIO, path: Path, camera: str, data: bytes) -> Path:
    """Writes ``data`` as a finished media file at ``path``; returns ``path``."""
    with media.create(path, camera) as writer:
        writer.write(data)
    return path


def read_bytes(media: MediaIO, path: Path) -> bytes:
    """The whole plaintext of a media file."""
    with media.open(path) as reader:
        return reader.read()


def part_of(path: Path) -> Path:
    """Where a writer of ``path`` keeps the file until it is finished."""
    return path.with_name(path.name + PART_SUFFIX)


class _PlainWriter(FrontToBack):
    """A plain file written to ``.part`` and renamed when closed (the rules of SealedWriter)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = part_of(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: io.FileIO | None = io.FileIO(self.part, "w")
        self._written = 0

    @property
    def closed(self) -> bool:
        """Whether the file was finished or aborted."""
        return self._file is None

    def tell(self) -> int:
        """Bytes written so far."""
        return self._written

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Appends ``data``."""
        file = self._open()
        view = whole = memoryview(data).cast("B")
        while view:
            view = view[file.write(view) or 0 :]
        self._written += len(whole)
        return len(whole)

    def flush(self) -> None:
        """Nothing to do: writes go straight to the OS."""
        self._open()

    def close(self) -> None:
        """Fsyncs and renames the ``.part`` into place (idempotent)."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            os.fsync(file.fileno())
            file.close()
            os.replace(self.part, self.path)
        except OSError as error:
            file.close()
            self.part.unlink(missing_ok=True)
            raise StoreError(f"cannot finish media file {self.path}: {error}") from error

    def abort(self) -> None:
        """Drops the unfinished file (idempotent)."""
        if self._file is None:
            return
        file, self._file = self._file, None
        file.close()
        self.part.unlink(missing_ok=True)

    def _open(self) -> io.FileIO:
        if self._file is None:
            raise ValueError(f"{self.path}: media writer is closed")
        return self._file


class _Sized(Protocol):
    """A readable, seekable file that knows its size."""

    @property
    def size(self) -> int: ...

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int: ...

    def read(self, size: int = -1, /) -> bytes: ...


def whole_fragments(reader: _Sized) -> int:
    """How many leading bytes of a cut fragmented MP4 end with its last whole ``mdat`` (0 if
    none): what a killed writer's file keeps. Its moov alone, or a moof without its media,
    would be a file with no frames."""
    return _last_mdat_end(reader, reader.size)


def whole_plain_fragments(path: Path) -> int:
    """``whole_fragments`` of a plain (cut) MP4 file."""
    with open(path, "rb") as handle:
        return _last_mdat_end(handle, os.fstat(handle.fileno()).st_size)


def _last_mdat_end(reader: mp4.Readable, size: int) -> int:
    ends = [box.end for box in mp4.whole_boxes(reader, 0, size) if box.type == "mdat"]
    return ends[-1] if ends else 0


class PlainMedia:
    """Media as plain files (tests, benchmarks, and data directories from before encryption)."""

    @property
    def sealed(self) -> bool:
        """False."""
        return False

    def create(self, path: Path, camera: str) -> MediaWriter:
        """A writer of a plain file at ``path``."""
        del camera  # plain files belong to nobody's key
        return _PlainWriter(path)

    def open(self, path: Path) -> MediaReader:
        """The file, opened for reading."""
        return open(path, "rb")

    def size(self, path: Path) -> int:
        """The file's size."""
        return path.stat().st_size

    def delete(self, paths: Iterable[Path]) -> int:
        """Unlinks files and their ``.part`` copies; returns how many files there were."""
        count = 0
        for path in paths:
            for leftover in (path, part_of(path)):
                try:
                    leftover.unlink()
                except FileNotFoundError:
                    continue
                except OSError as error:
                    raise StoreError(f"cannot delete {leftover}: {error}") from error
                count += leftover == path
        return count

    def known(self, folder: Path, prefix: str) -> list[Path]:
        """The files there with that prefix."""
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.is_file())

    def salvage(self, part: Path) -> int:
        """Cuts a ``.part`` to its whole boxes and renames it into place (deleted if none)."""
        keep = whole_plain_fragments(part)
        if keep == 0:
            part.unlink(missing_ok=True)
            return 0
        with open(part, "r+b") as handle:
            handle.truncate(keep)
            os.fsync(handle.fileno())
        os.replace(part, part.with_name(part.name.removesuffix(PART_SUFFIX)))
        return keep

    def migrate(self) -> int:
        """Nothing to do for plain files."""
        return 0

    def settle(self) -> None:
        """Nothing to do for plain files."""


class SealedMedia:
    """Media sealed by a ``MediaVault``, each file under its own key of its camera's household.

    ``household_of(camera)`` returns the owning household's id, or None for a camera nobody
    owns (its files go to ``UNOWNED``).
    """

    def __init__(self, vault: MediaVault, household_of: Callable[[str], int | None]) -> None:
        self.vault = vault
        self._household_of = household_of
        self._lock = threading.Lock()
        # camera -> the household its keys were last moved to (or found in) by this process
        self._homes: dict[str, int] = {}

    @property
    def sealed(self) -> bool:
        """True."""
        return True

    def household(self, camera: str) -> int:
        """The household whose key seals ``camera``'s new files."""
        owner = self._household_of(camera)
        return UNOWNED if owner is None else owner

    def create(self, path: Path, camera: str) -> MediaWriter:
        """A sealing writer under a new key of the camera's household."""
        household = self.household(camera)
        self._follow(camera, household)
        return self.vault.create(path, household)

    def _follow(self, camera: str, household: int) -> None:
        """Moves the camera's older keys to ``household`` once per change of owner."""
        with self._lock:
            if self._homes.get(camera) == household:
                return
            try:
                moved = self.rehome_camera(camera, household)
            except KeyringError as error:
                # A locked household: recording goes on, the move is retried with the next file.
                log.warning("keys of %s stay with their household for now: %s", camera, error)
                return
            self._homes[camera] = household
        if moved:
            log.info("keys of %d files of %s moved to household %d", moved, camera, household)

    def open(self, path: Path) -> MediaReader:
        """A decrypting, seekable reader."""
        return self.vault.open(path)

    def size(self, path: Path) -> int:
        """The plaintext size (authenticates the final chunk)."""
        with self.vault.open(path) as reader:
            return reader.size

    def delete(self, paths: Iterable[Path]) -> int:
        """Destroys the keys (one scrub), then unlinks the files; returns how many keys went."""
        return self.vault.shred_many(paths)

    def known(self, folder: Path, prefix: str) -> list[Path]:
        """Files there with that prefix, and those whose key outlived the file."""
        found = set(PlainMedia().known(folder, prefix))
        blob_prefix = f"{self.vault.blob_id(folder)}/{prefix}"
        found.update(self.vault.data_dir / b for b in self.vault.keyring.blob_ids(blob_prefix))
        return sorted(found)

    def salvage(self, part: Path) -> int:
        """Re-seals the whole fragments of a killed writer's ``.part`` as its finished file."""
        return self.vault.salvage(part, keep=whole_fragments)

    def migrate(self) -> int:
        """Seals every plain file under ``<kind>/<camera>/`` that has no key (media written
        before encryption was on); the camera is the path's second part.

        The plain bytes are overwritten only in the file system's view: the blocks they held
        are freed, not wiped (see docs/privacy.md).
        """
        data_dir = self.vault.data_dir
        keyed = set(self.vault.keyring.blob_ids())
        sealed = 0
        for path in sorted(data_dir.rglob("*")):
            relative = path.relative_to(data_dir)
            if (
                len(relative.parts) < 3
                or relative.parts[0] == SECRET_DIR
                or path.is_symlink()
                or not path.is_file()
                or path.name.endswith((PART_SUFFIX, SALVAGE_SUFFIX))
                or relative.as_posix() in keyed
            ):
                continue
            with open(path, "rb") as plain:
                if plain.read(len(MAGIC)) == MAGIC:
                    continue  # sealed, its key shredded: noise already
                plain.seek(0)
                with self.vault.create(path, self.household(relative.parts[1])) as writer:
                    while block := plain.read(1024 * 1024):
                        writer.write(block)
            sealed += 1
        if sealed:
            log.info("sealed %d media files written before encryption", sealed)
        return sealed

    def settle(self) -> None:
        """Destroys the keys of vanished files and scrubs the key database."""
        self.vault.shred_orphans()
        self.vault.keyring.scrub()

    def rehome_camera(self, camera: str, household_id: int | None) -> int:
        """Moves the keys of ``camera``'s files (``<kind>/<camera>/...``) to its new household;
        returns how many. Both households must be open (password mode: unlocked)."""
        target = UNOWNED if household_id is None else household_id
        keyring = self.vault.keyring
        there = set(keyring.blob_ids(household_id=target))
        blobs = [b for b in keyring.blob_ids() if b.split("/")[1:2] == [camera] and b not in there]
        return keyring.rehome(blobs, target)
