"""A data directory's media opened sealed per household: the key ring over the store, and which
household owns each camera (read at each call). The app, the commands and a cluster's nodes
open media through here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store
from hearthcam.vault.keyring import Keyring, MediaVault
from hearthcam.vault.media import SealedMedia


def open_media(store: Store, data_dir: Path, *, create: bool = True) -> SealedMedia:
    """The data directory's media, sealed: each file under its own key, wrapped to the key of
    its camera's household (a camera nobody owns: household 0).

    The server secret in ``<data_dir>/secrets/`` is made here (with ``create``) only for a data
    directory with nothing sealed and no keys; a missing, garbled or foreign secret where there
    is sealed data is SecretUnusable, with how to restore it, and nothing is touched."""
    accounts = AccountStore(store)

    def household_of(camera: str) -> int | None:
        with accounts.read() as tx:
            return tx.camera_household(camera)

    keyring = Keyring.open(store, data_dir, create=create)
    return SealedMedia(MediaVault(keyring, data_dir), household_of)


def cameras_household(store: Store) -> Callable[[str], int | None]:
    """The household owning a camera (None: nobody), read at each call."""
    accounts = AccountStore(store)

    def household_of(camera: str) -> int | None:
        with accounts.read() as tx:
            return tx.camera_household(camera)

    return household_of


def open_media_to_read(store: Store, data_dir: Path) -> SealedMedia:
    """The media of a data directory a server may be writing, opened to read only: it creates
    no secret (SecretUnusable if there is none) and runs no recovery."""
    return open_media(store, data_dir, create=False)
