"""The API form of this installation's link to a review hub (``web.hub_links``): what the
admin sends to link, and what the Settings page shows of the link."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hearthcam.web.hub_links import LinkedHub
from hearthcam.web.schemas import HubLogOut

# The hub's own limit on a home's name (hub.server), checked here before the hub is asked.
NAME_MAX = 100


class HubLinkIn(BaseModel):
    """An admin's link: the hub's address and one-time code as its operator gave them, and how
    the operator sees this home (empty: this box's name)."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=1, max_length=2048, description="http(s)://host[:port]")
    code: str = Field(min_length=1, max_length=64, description="the one-time code, XXXXX-XXXXX")
    name: str | None = Field(None, max_length=NAME_MAX, description="this home at the hub")

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str | None) -> str | None:
        # As the hub refuses it; an empty name is no name (the default).
        if name is None or not name.strip():
            return None
        if not name.isprintable():
            raise ValueError("a name is printable text")
        return name.strip()


class HubTermsOut(BaseModel):
    """What the hub's operator states for the clips homes share there."""

    operator: str
    annotators_in: str
    keep_days: int


class HubLinkOut(BaseModel):
    """The installation's link (``linked`` false: none; the rest is then empty). ``terms``
    null: the hub states none, and no clip can be shared with it. ``log``: the last round of
    checking the hub's view log (it may be of a hub linked before: its ``url`` says). ``problem``:
    why the link kept here cannot be read. ``can_manage``: the caller may link and unlink (an
    admin); ``default_name``: the name a link without one gives this home."""

    linked: bool
    can_manage: bool
    default_name: str = ""
    address: str = ""
    home_id: int | None = None
    linked_at: str = ""
    fingerprint: str = ""
    keeps_log: bool = False
    terms: HubTermsOut | None = None
    log: HubLogOut | None = None
    problem: str = ""

    @classmethod
    def of(cls, hub: LinkedHub, can_manage: bool, log: HubLogOut | None) -> HubLinkOut:
        terms = None
        if hub.operator is not None and hub.annotators_in is not None:
            terms = HubTermsOut(
                operator=hub.operator, annotators_in=hub.annotators_in, keep_days=hub.keep_days or 0
            )
        return cls(
            linked=True, can_manage=can_manage, address=hub.address, home_id=hub.home_id,
            linked_at=hub.linked_at, fingerprint=hub.fingerprint, keeps_log=hub.keeps_log,
            terms=terms, log=log,
        )  # fmt: skip


class HubUnlinkOut(BaseModel):
    """An unlink done: the hub it was, and how many clips it deleted there (each with a signed
    receipt; the shares they came from end, and their receipts show on My shared clips)."""

    address: str
    deleted: int
    forgotten: str = Field(
        "",
        description="why the link was forgotten here without the hub's receipts (empty: the "
        "hub unlinked this home)",
    )
