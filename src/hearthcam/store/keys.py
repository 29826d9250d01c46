"""The key ring's rows: wrapped household keys and wrapped media keys (one per sealed blob).

Rows only: what the keys are and how they are wrapped, unwrapped and shredded is
``hearthcam.vault.keyring``'s.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base


class HouseholdKeyRow(Base):
    """A household's X25519 private key, wrapped under the KEK (or KEK + password)."""

    __tablename__ = "household_keys"

    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(String(16))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    public: Mapped[bytes] = mapped_column(LargeBinary)
    public_tag: Mapped[bytes] = mapped_column(LargeBinary)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    kdf_time: Mapped[int | None] = mapped_column(Integer)
    kdf_memory: Mapped[int | None] = mapped_column(Integer)
    kdf_parallelism: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[float] = mapped_column(Float)


class MediaKeyRow(Base):
    """One blob's key, wrapped to its household's public key."""

    __tablename__ = "media_keys"

    blob_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[float] = mapped_column(Float)
