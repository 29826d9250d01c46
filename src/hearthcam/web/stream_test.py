"""The "Test" button's stream probe, kept to the host the user typed and to allowed addresses.

Every connection it makes goes to an address ``HostPolicy`` vetted first:

* RTSP: the URL is handed to FFmpeg with its host replaced by the vetted address (so a name
  re-pointed after the check is never looked up again). RTSPS keeps the name for TLS.
* HTTP(S), HLS included: FFmpeg opens nothing itself. PyAV's ``io_open`` hands every URL the
  demuxer wants (the stream, a playlist, each segment and key, each playlist reload) to
  ``GuardedHttp``, which refuses any URL off the typed host and fetches the rest with urllib over
  a socket connected to the vetted address. A redirect is followed only to the same host. We
  chose this over FFmpeg's options: ``protocol_whitelist`` limits protocols, not hosts;
  ``max_redirects=0`` stops redirects but not playlist entries; and checking a playlist before
  FFmpeg fetches it again would not stop a server that answers the second fetch differently.

What comes back to the browser is either the decoded frame's size or, for any failure after a
connection was tried, one fixed text: which ports answer, refuse or stay silent is not for a
form to tell. The real reason is logged for the admin.
"""

from __future__ import annotations

import functools
import http.client
import logging
import socket
import ssl
import time
import urllib.request
from typing import Final, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import av.error

from hearthcam.config import SourceConfig
from hearthcam.errors import SourceError, SourceTimeout
from hearthcam.pipeline.source import InputKind, StreamInfo, input_kind, probe, redact_url
from hearthcam.web.camera_hosts import Address, HostPolicy, StreamRefused, same_host

GENERIC_FAILURE: Final = (
    "no video from this stream: check the address, port, path, user name and password"
)
# What one probe may read over HTTP in all (a playlist that never ends is cut here).
MAX_HTTP_BYTES: Final = 64 * 1024 * 1024
HTTP_SCHEMES: Final = frozenset({"http", "https"})

log = logging.getLogger(__name__)

# Cameras serve self-signed certificates, and FFmpeg (what records them) does not verify
# either: TLS here protects the password on the wire, not the camera's identity.
_TLS: Final = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE


def guarded_probe(url: str, cfg: SourceConfig, policy: HostPolicy) -> StreamInfo:
    """Opens ``url`` (already a valid app URL) only at vetted addresses and decodes a frame.

    StreamRefused for what the policy refuses; any other failure is a SourceError."""
    kind = input_kind(url)
    try:
        if kind is InputKind.DEVICE:
            return probe(url, cfg)
        if kind is InputKind.FILE:
            raise StreamRefused("a file is not a camera stream")
        parts = urlsplit(url)
        address = policy.vetted(parts.hostname or "")
        if kind is InputKind.HTTP:
            return probe(url, cfg, io_open=GuardedHttp(url, policy, cfg))
        if parts.scheme.lower() == "rtsp":
            return probe(pinned(url, address), cfg)
        return probe(url, cfg)
    except SourceError:
        raise
    except (OSError, http.client.HTTPException, ValueError, av.error.FFmpegError) as error:
        raise SourceError(f"{redact_url(url)}: {type(error).__name__}: {error}") from None


def pinned(url: str, address: Address) -> str:
    """``url`` with its host replaced by ``address`` (user, password and port kept)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + literal
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class GuardedHttp:
    """PyAV's ``io_open`` for one HTTP(S) stream test (see the module docstring)."""

    def __init__(self, origin: str, policy: HostPolicy, cfg: SourceConfig) -> None:
        parts = urlsplit(origin)
        self._host = parts.hostname or ""
        self._timeout = cfg.read_timeout
        self._deadline = time.monotonic() + cfg.connect_timeout + cfg.read_timeout
        self._left = MAX_HTTP_BYTES
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            passwords.add_password(None, f"{parts.scheme}://{_bare(parts.netloc)}", user, password)
        # An OpenerDirector by hand: build_opener would add a ProxyHandler that follows the
        # environment's proxy, past the vetted connections.
        opener = urllib.request.OpenerDirector()
        for handler in (
            _VettedHttp(policy),
            _VettedHttps(policy),
            _SameHostRedirects(self._host),
            urllib.request.HTTPBasicAuthHandler(passwords),
            urllib.request.HTTPDigestAuthHandler(passwords),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        self._opener = opener

    def __call__(self, url: str, flags: int, options: dict[str, str]) -> _Body:
        """Opens one URL the demuxer asks for; StreamRefused when it leaves the typed host."""
        del flags, options  # read-only, and FFmpeg's http options do not apply to urllib
        parts = urlsplit(url)
        if parts.scheme.lower() not in HTTP_SCHEMES or not same_host(
            parts.hostname or "", self._host
        ):
            raise StreamRefused(f"the stream points at another host ({redact_url(url)})")
        bare = urlunsplit(parts._replace(netloc=_bare(parts.netloc)))
        self._check_deadline()
        response = self._opener.open(bare, timeout=self._timeout)
        return _Body(cast(http.client.HTTPResponse, response), self)

    def spend(self, count: int) -> None:
        """Counts bytes read; SourceTimeout once the test's time or byte budget is spent."""
        self._left -= count
        if self._left < 0:
            raise SourceError("the stream sent more than a stream test reads")
        self._check_deadline()

    def _check_deadline(self) -> None:
        if time.monotonic() > self._deadline:
            raise SourceTimeout("the stream test ran out of time")


class _Body:
    """A response as PyAV reads it: read and close, no seeking."""

    def __init__(self, response: http.client.HTTPResponse, budget: GuardedHttp) -> None:
        self._response = response
        self._budget = budget

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # read1: what has arrived, so a live stream is not held until a whole buffer fills.
        data = self._response.read1(size) if size > 0 else self._response.read()
        self._budget.spend(len(data))
        return data

    def close(self) -> None:
        self._response.close()


def _bare(netloc: str) -> str:
    """A netloc without its user and password (urllib sends them through the auth handlers)."""
    return netloc.rpartition("@")[2]


def _vetted_socket(
    policy: HostPolicy, host: str, port: int, timeout: float | None
) -> socket.socket:
    address = policy.vetted(host)
    return socket.create_connection((str(address), port), timeout)


class _VettedConnection(http.client.HTTPConnection):
    """Connects to the address the policy vetted for its host, nowhere else."""

    def __init__(self, host: str, *, policy: HostPolicy, timeout: float | None = None) -> None:
        super().__init__(host, timeout=timeout)
        self._policy = policy

    def connect(self) -> None:
        self.sock = _vetted_socket(self._policy, self.host, self.port, self.timeout)


class _VettedTlsConnection(http.client.HTTPSConnection):
    """As ``_VettedConnection``, over TLS (the name still goes in SNI)."""

    def __init__(self, host: str, *, policy: HostPolicy, timeout: float | None = None) -> None:
        super().__init__(host, timeout=timeout, context=_TLS)
        self._policy = policy

    def connect(self) -> None:
        raw = _vetted_socket(self._policy, self.host, self.port, self.timeout)
        self.sock = _TLS.wrap_socket(raw, server_hostname=self.host)


class _VettedHttp(urllib.request.HTTPHandler):
    def __init__(self, policy: HostPolicy) -> None:
        super().__init__()
        self._policy = policy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_VettedConnection, policy=self._policy), req)


class _VettedHttps(urllib.request.HTTPSHandler):
    def __init__(self, policy: HostPolicy) -> None:
        super().__init__(context=_TLS)
        self._policy = policy

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_VettedTlsConnection, policy=self._policy), req)


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same host, over HTTP(S)."""

    def __init__(self, host: str) -> None:
        self._host = host

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: object,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = urlsplit(newurl)
        if target.scheme.lower() not in HTTP_SCHEMES or not same_host(
            target.hostname or "", self._host
        ):
            raise StreamRefused("the stream redirects to another host")
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]
