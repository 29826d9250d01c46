"""The command line, one module per command group; each registers its commands on the root app
(``common.cli``) when imported here.

Errors a user can fix (bad config, unreadable file) print one clear message and exit 2.
"""

from __future__ import annotations

import sys

from hearthcam.cli import analyze, audit, bench, config, db, export, hub, learn, media, run, user
from hearthcam.cli.common import cli

__all__ = [
    "analyze",
    "audit",
    "bench",
    "cli",
    "config",
    "db",
    "export",
    "hub",
    "learn",
    "main",
    "media",
    "run",
    "user",
]


def main() -> None:
    """Entry point of the ``hearthcam`` command."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
