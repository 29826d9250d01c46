"""The errors the accounts package raises on purpose; they sit under HearthcamError.

HearthcamError
└── AccountError          an account operation was refused
    ├── InvalidUsername       not 3-64 of letters, digits and . _ - @
    ├── UsernameTaken         another user has this name (case-insensitively)
    ├── PasswordRejected      too short, too long, or contains the username
    ├── SetupClosed           first-start setup asked for while users already exist
    └── NotAllowed            the session's state or the user's role does not permit this
"""

from __future__ import annotations

from hearthcam.errors import HearthcamError


class AccountError(HearthcamError):
    """An account operation was refused."""


class InvalidUsername(AccountError):
    """The username is not 3-64 characters of ASCII letters, digits and ``. _ - @``."""


class UsernameTaken(AccountError):
    """Another user already has this username (compared case-insensitively)."""


class PasswordRejected(AccountError):
    """A new password breaks the password rules; ``problems`` lists each broken rule."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class SetupClosed(AccountError):
    """First-start setup runs only while there are no users at all."""


class NotAllowed(AccountError):
    """The session's state, the user's role or the current TOTP setup does not permit this."""
