"""Push notifications through an ntfy-compatible server: one POST to ``<url>/<topic>`` per alert.

The alert text is the body; ntfy's headers carry the title, emoji tags, the priority and the
link the notification opens (the event page, behind the web app's login). Non-ASCII header
values are sent as RFC 2047 encoded words, which ntfy decodes, because HTTP headers are latin-1.
A view log checkpoint goes as a quiet message whose text ends with the checkpoint JSON (compact,
no attachment): saved to a file, ``hearthcam audit verify --against`` reads that line.
Browser Web Push is ``alerts.webpush``.
"""

from __future__ import annotations

import base64
import logging

import httpx

from hearthcam.alerts.text import Alert, CheckpointNotice, HubLogAlarm, subject
from hearthcam.alerts.webhook import RetryPolicy, post_with_retries, user_agent
from hearthcam.config import NtfyConfig
from hearthcam.types import Verdict

log = logging.getLogger(__name__)

# ntfy turns tags that are emoji short codes into emoji in front of the title.
_TAGS = {
    Verdict.THREAT: "rotating_light",
    Verdict.VEHICLE: "car",
    Verdict.MOTION: "eyes",
    Verdict.FAMILIAR: "house",
}
_PET_TAGS = {"Cat": "cat", "Dog": "dog"}


def encoded_word(value: str) -> str:
    """A header value as an RFC 2047 UTF-8 encoded word unless it is plain ASCII."""
    if value.isascii():
        return value
    return f"=?utf-8?b?{base64.b64encode(value.encode('utf-8')).decode('ascii')}?="


def tags(alert: Alert) -> str:
    """The emoji tag of the verdict, then the camera key as a plain tag."""
    event = alert.event
    if event.verdict is Verdict.PET:
        emoji = _PET_TAGS.get(subject(event), "paw_prints")
    else:
        emoji = _TAGS[event.verdict]
    return f"{emoji},{event.camera}"


def checkpoint_text(notice: CheckpointNotice) -> str:
    """The body of a checkpoint message: what it is, then the checkpoint JSON on one line."""
    return (
        f"View log checkpoint of household {notice.household_id}: {notice.size} entries. "
        "Keep it: `hearthcam audit verify --against FILE` (the JSON below saved as FILE) "
        "shows whether the log was cut back since.\n"
        f"{notice.text}"
    )


def priority(alert: Alert) -> str:
    """A person is urgent; whatever else the owner chose to be told about is not."""
    return "high" if alert.event.verdict is Verdict.THREAT else "default"


class NtfyNotifier:
    """Publishes alerts to one ntfy topic."""

    follow_ups = False  # one push per event; a second buzz for the clip would be noise

    def __init__(
        self,
        cfg: NtfyConfig,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._cfg = cfg
        self._url = f"{cfg.url.rstrip('/')}/{cfg.topic}"
        # Few, quick retries: a push that arrives minutes late has lost its point.
        self._policy = policy or RetryPolicy(retries=2, initial=1.0, total=30.0)
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent()}
        )
        self.failures = 0

    @property
    def name(self) -> str:
        """The channel name."""
        return "ntfy"

    def headers(self, alert: Alert) -> dict[str, str]:
        """ntfy's publish headers for an alert."""
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": encoded_word(alert.title),
            "Tags": encoded_word(tags(alert)),
            "Priority": priority(alert),
            "Click": alert.link,
        }
        if self._cfg.token:
            headers["Authorization"] = f"Bearer {self._cfg.token}"
        return headers

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """Publishes a view log checkpoint at low priority; failures are logged, not raised."""
        text = checkpoint_text(notice)
        self._notice("hearthcam view log checkpoint", "lock", "low", text, "a checkpoint")

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """Publishes the alarm at the highest priority; failures are logged, not raised."""
        self._notice(notice.title, "rotating_light", "urgent", notice.body, "a hub alarm")

    def _notice(self, title: str, tags: str, priority: str, text: str, what: str) -> None:
        """Publishes a message that is not an alert; failures are logged, not raised."""
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": encoded_word(title),
            "Tags": tags,
            "Priority": priority,
        }
        if self._cfg.token:
            headers["Authorization"] = f"Bearer {self._cfg.token}"
        body = text.encode("utf-8")
        outcome = post_with_retries(self._client, self._url, body, lambda: headers, self._policy)
        if not outcome.ok:
            self.failures += 1
            log.warning(
                "ntfy gave up on %s after %d attempts (status %s) %s",
                what,
                outcome.attempts,
                outcome.status,
                outcome.error,
            )

    def send(self, alert: Alert) -> None:
        """Publishes the alert; a failure after the retries is logged, not raised."""
        headers = self.headers(alert)
        outcome = post_with_retries(
            self._client, self._url, alert.body.encode("utf-8"), lambda: headers, self._policy
        )
        if not outcome.ok:
            self.failures += 1
            log.warning(
                "ntfy gave up on event %s after %d attempts (status %s) %s",
                alert.event.id,
                outcome.attempts,
                outcome.status,
                outcome.error,
            )

    def close(self) -> None:
        """Closes the HTTP connection pool."""
        self._client.close()
