"""Which stream URLs an owner may give a camera from the app, and keeping their passwords hidden.

The app only connects to cameras: RTSP(S) and HTTP(S) streams, or a USB camera (``/dev/videoN``).
A file path is refused, so the form cannot be used to make the server read its own files (the
config file may still name files and other devices). A URL's password is never sent back to a
browser: it shows as ``***``, and a URL that comes back with ``***`` for the same user and host
keeps the stored password. Which hosts a URL may name is ``web.camera_hosts``'s decision.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from hearthcam.pipeline.source import redact_url

SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
HIDDEN = "***"
_USB = re.compile(r"/dev/video[0-9]{1,2}")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a camera stream added from the app; None if it can."""
    if url != url.strip() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "the URL has spaces or control characters"
    if _USB.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number 0-65535)
    except ValueError as error:
        return f"not a valid URL ({error})"
    if parts.scheme.lower() not in SCHEMES:
        return "use an rtsp://, rtsps://, http:// or https:// URL, or /dev/videoN"
    if not parts.hostname:
        return "the URL names no host"
    return None


def hidden(url: str) -> str:
    """The URL as a browser may see it (password shown as ``***``)."""
    return redact_url(url)


def with_stored_password(url: str, stored: str | None) -> str:
    """``url`` with the stored URL's password where the browser sent back the hidden one for
    the same user, host and port; otherwise ``url`` as it is."""
    parts = urlsplit(url)
    if stored is None or parts.password != HIDDEN:
        return url
    old = urlsplit(stored)
    same = (old.username, old.hostname, old.port) == (parts.username, parts.hostname, parts.port)
    if not same or old.password is None:
        return url
    return urlunsplit(parts._replace(netloc=old.netloc))
