"""The terms a hub's operator states for the clips homes share with it.

A consent receipt for sharing with a hub names them (``privacy.consent.HubDestination``): who
runs the hub, where its annotators work and how long it keeps a clip. The hub states them in its
signed answer to a link, and the home keeps them with the link (``hub.home``), so what an owner
agrees to is what the hub said under the key the home pinned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hearthcam.hub.identity import HubError

TEXT_MAX: Final = 100
KEEP_DAYS_MAX: Final = 3650


class TermsError(HubError, ValueError):
    """Terms that are not whole: the message names the field."""


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TermsError(f"{name}: must be some text")
    text = " ".join(value.split())
    if len(text) > TEXT_MAX or not text.isprintable():
        raise TermsError(f"{name}: at most {TEXT_MAX} printable characters")
    return text


@dataclass(frozen=True, slots=True)
class HubTerms:
    """Who runs the hub (``operator``), where its annotators work (``annotators_in``) and how
    many days it keeps a clip at most (``keep_days``)."""

    operator: str
    annotators_in: str
    keep_days: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "operator", _text(self.operator, "operator"))
        object.__setattr__(self, "annotators_in", _text(self.annotators_in, "annotators_in"))
        days = self.keep_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= KEEP_DAYS_MAX:
            raise TermsError(f"keep_days: a whole number of days from 1 to {KEEP_DAYS_MAX}")

    def to_json(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "annotators_in": self.annotators_in,
            "keep_days": self.keep_days,
        }

    @staticmethod
    def from_json(value: object) -> HubTerms:
        """Terms from their JSON; TermsError naming what is wrong."""
        if not isinstance(value, dict):
            raise TermsError("terms: not an object")
        missing = [k for k in ("operator", "annotators_in", "keep_days") if k not in value]
        if missing:
            raise TermsError(f"{missing[0]}: missing")
        return HubTerms(value["operator"], value["annotators_in"], value["keep_days"])
