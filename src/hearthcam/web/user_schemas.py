"""Request and response bodies of user management, enrolment links, the password strength
check and the admin's system status."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hearthcam.accounts import Enrolled, LoginState, Role
from hearthcam.web.schemas import NewPassword, NewUsername, Password

# A link's token is 43 URL-safe characters; anything much longer is not looked up.
LinkToken = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserOut(BaseModel):
    """A user as the user lists show them."""

    id: int
    username: str
    role: Role
    totp_enabled: bool
    enrolment: Enrolled = Field(
        description="done: has a password; invited: a link waits; expired: needs a new link"
    )


class UserIn(_In):
    """A new user: they choose their password and enrol TOTP through the link returned."""

    username: NewUsername
    role: Role


class LinkOut(BaseModel):
    """A user's one-time enrolment link, shown once: the token is not stored."""

    id: int
    username: str
    link: str = Field(description="path and fragment: /enrol#<token>")
    expires: float


class TokenIn(_In):
    """An enrolment link's token (from the link's fragment, never its query)."""

    token: LinkToken


class EnrolmentOut(BaseModel):
    """Whether a link can still be used and, if so, whom it is for (a dead link is an answer
    the page shows, not an error)."""

    valid: bool
    username: str | None = None
    role: Role | None = None


class TotpSecretOut(BaseModel):
    """A new TOTP secret for the authenticator app (shown as a QR code of ``uri``)."""

    secret: str
    uri: str


class EnrolIn(_In):
    """The last step: the chosen password and a code from the new secret."""

    token: LinkToken
    password: NewPassword
    code: Code


class EnrolledOut(BaseModel):
    """A finished enrolment: a signed-in session and the recovery codes, shown once."""

    state: LoginState
    csrf_token: str
    recovery_codes: list[str]


class StrengthIn(_In):
    """A password to score (never stored or logged) and the name it is for, if known."""

    password: Password
    username: Annotated[str, StringConstraints(max_length=64)] = ""


class StrengthOut(BaseModel):
    """zxcvbn's score and the server's verdict, which the meter shows as it is."""

    score: int = Field(ge=0, le=4)
    acceptable: bool
    min_score: int
    reason: str = Field(description="why it is refused; empty when acceptable")


class SystemOut(BaseModel):
    """The box at a glance (admins)."""

    version: str
    uptime_s: float
    cameras_running: int
    cameras_total: int
    disk_free: int
    disk_total: int
    users: dict[Literal["owner", "member", "admin", "annotator"], int]
