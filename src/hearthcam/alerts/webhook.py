"""Signed JSON webhooks: a POST per alert and one when its clip is ready, retried with backoff.

The body is the alert payload as compact UTF-8 JSON. Every attempt carries::

    X-Hearthcam-Timestamp: <Unix time, whole seconds>
    X-Hearthcam-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>
    X-Hearthcam-Delivery:  <event id>.<alert|clip>   (the same on every retry)

A view log checkpoint (``send_checkpoint``) is signed the same way; its body is the checkpoint
JSON itself, which ``hearthcam audit verify --against`` reads as it is, and its delivery id
``checkpoint.<household>.<size>``; ``X-Hearthcam-Household`` names the household. An alarm
that the review hub's view log did not check out (``send_hub_alarm``) is ``HubLogAlarm.payload``
as JSON, delivery id ``hub-alarm.<household>.<checked at>``.

The timestamp is part of the signed material, so a receiver that also checks that it is recent
(``verify_signature`` does both) rejects a captured request replayed later; the delivery id lets
it drop the duplicates a retry after a lost response produces. Retries (connection errors,
timeouts, 5xx, 429 honouring Retry-After) back off exponentially within a bounded total time;
other 4xx answers are final.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import importlib.metadata
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from hearthcam.alerts.text import Alert, CheckpointNotice, HubLogAlarm, JsonValue
from hearthcam.config import WebhookConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hearthcam-Signature"
TIMESTAMP_HEADER = "X-Hearthcam-Timestamp"
DELIVERY_HEADER = "X-Hearthcam-Delivery"
HOUSEHOLD_HEADER = "X-Hearthcam-Household"


def user_agent() -> str:
    """``hearthcam/<version>``."""
    try:
        version = importlib.metadata.version("hearthcam")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"hearthcam/{version}"


def encode_body(payload: Mapping[str, JsonValue]) -> bytes:
    """The exact bytes that are sent and signed."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC of ``b"<timestamp>." + body``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    header: str,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """For receivers: True if ``header`` signs this body and timestamp, and the timestamp is
    within ``tolerance`` seconds of ``now`` (so old requests cannot be replayed)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header.strip())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial * factor**n`` capped at ``max_delay``, within ``total``."""

    retries: int = 5
    initial: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    total: float = 120.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return float(min(self.max_delay, self.initial * self.factor**retry))


@dataclass(frozen=True)
class Outcome:
    """How a delivery ended."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str = ""


def retryable(status: int) -> bool:
    """Server trouble and rate limits are worth another try; other client errors are not."""
    return status >= 500 or status == 429


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP date), if it did."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def post_with_retries(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Callable[[], Mapping[str, str]],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POSTs ``body`` until a 2xx, a final answer, or the policy runs out; never raises.

    ``headers`` is called per attempt, so signatures carry the time of that attempt.
    """
    deadline = time.monotonic() + policy.total
    outcome = Outcome(False, 0)
    for attempt in range(policy.retries + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        wait = policy.delay(attempt)
        try:
            response = client.post(url, content=body, headers=headers(), timeout=remaining)
        except httpx.HTTPError as error:  # refused, reset, timed out: the network may recover
            outcome = Outcome(False, attempt + 1, None, f"{type(error).__name__}: {error}")
        else:
            outcome = Outcome(response.is_success, attempt + 1, response.status_code)
            if response.is_success or not retryable(response.status_code):
                return outcome
            asked = retry_after(response)
            wait = wait if asked is None else asked
        if attempt == policy.retries or time.monotonic() + wait >= deadline:
            break
        sleep(wait)
    return outcome


class WebhookNotifier:
    """POSTs signed alert JSON to one URL."""

    follow_ups = True  # receivers get the clip URL as soon as the clip exists

    def __init__(
        self,
        cfg: WebhookConfig,
        name: str = "webhook",
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._name = name
        self._policy = policy or RetryPolicy(retries=cfg.retries)
        self._client = client or httpx.Client(
            timeout=cfg.timeout, follow_redirects=False, headers={"User-Agent": user_agent()}
        )
        self._clock = clock
        self.failures = 0
        self.last: Outcome | None = None

    @property
    def name(self) -> str:
        """The channel name."""
        return self._name

    def headers(self, alert: Alert, body: bytes) -> dict[str, str]:
        """The headers of one attempt, signed now."""
        return self._signed(body, f"{alert.event.id}.{alert.kind.value}")

    def _signed(self, body: bytes, delivery: str) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        return {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._cfg.secret, timestamp, body),
            DELIVERY_HEADER: delivery,
        }

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """POSTs the signed checkpoint JSON; a failure after every retry is logged, not raised."""
        delivery = f"checkpoint.{notice.household_id}.{notice.size}"
        self._household_post(notice.text.encode("utf-8"), delivery, notice.household_id)

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """POSTs the signed alarm; a failure after every retry is logged, not raised."""
        delivery = f"hub-alarm.{notice.household_id}.{int(notice.checked_at)}"
        self._household_post(encode_body(notice.payload()), delivery, notice.household_id)

    def _household_post(self, body: bytes, delivery: str, household_id: int) -> None:
        """POSTs a signed message for one household; failures are logged, not raised."""

        def headers() -> dict[str, str]:
            return {**self._signed(body, delivery), HOUSEHOLD_HEADER: str(household_id)}

        outcome = post_with_retries(self._client, self._cfg.url, body, headers, self._policy)
        self.last = outcome
        if not outcome.ok:
            self.failures += 1
            log.warning(
                "webhook %s gave up on %s after %d attempts (status %s) %s",
                self._name,
                delivery,
                outcome.attempts,
                outcome.status,
                outcome.error,
            )

    def send(self, alert: Alert) -> None:
        """Delivers the alert; a failure after every retry is logged, not raised."""
        body = encode_body(alert.payload)
        outcome = post_with_retries(
            self._client, self._cfg.url, body, lambda: self.headers(alert, body), self._policy
        )
        self.last = outcome
        if not outcome.ok:
            self.failures += 1
            log.warning(
                "webhook %s gave up on event %s after %d attempts (status %s) %s",
                self._name,
                alert.event.id,
                outcome.attempts,
                outcome.status,
                outcome.error,
            )

    def close(self) -> None:
        """Closes the HTTP connection pool."""
        self._client.close()
