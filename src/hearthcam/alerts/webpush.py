"""Browser Web Push (the installed web app): VAPID keys and the alert channel.

Each alert goes, encrypted for each browser (RFC 8291, aes128gcm) and signed with the server's
VAPID key (RFC 8292), to the push service endpoint of every subscribed browser of the camera's
household; the push service wakes the web app's service worker, which shows the notification
and opens the event page (behind the login) when it is tapped. Which subscriptions belong to a
camera is the composition root's business (``targets``); an endpoint the push service calls
gone (404/410) is handed to ``gone`` to be forgotten.

A view log checkpoint goes to the browsers of its household as a quiet notice that opens the
"Who viewed my clips" page (which verifies the log and keeps the checkpoint in that browser);
the payload carries the checkpoint JSON when it fits ``MAX_PAYLOAD``, else its size and root.

The VAPID private key is created on first use in the data directory (mode 0600) and never
leaves it; browsers get the public key as the ``applicationServerKey``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from hearthcam.alerts.endpoints import Resolver, points_inside, resolve
from hearthcam.alerts.text import Alert, CheckpointNotice, HubLogAlarm
from hearthcam.store.push import PushSubscription

log = logging.getLogger(__name__)

GONE = (404, 410)  # the push service forgot the subscription: stop sending to it
TTL = 3600  # seconds a push service keeps an undelivered alert (a phone that is off)
CHECKPOINT_TTL = 7 * 24 * 3600  # a checkpoint is still worth having a week late
# Push services take 4096 bytes of encrypted record; this leaves room for its overhead.
MAX_PAYLOAD = 3000


class VapidKeys:
    """The server's VAPID key pair."""

    def __init__(self, vapid: Vapid02) -> None:
        self.vapid = vapid

    @classmethod
    def load_or_create(cls, path: Path) -> VapidKeys:
        """The key in ``path``; a new one is written there (0600) when there is none."""
        if path.is_file():
            return cls(Vapid02.from_file(str(path)))
        vapid = Vapid02()
        vapid.generate_keys()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = vapid.private_pem()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        return cls(vapid)

    @property
    def application_server_key(self) -> str:
        """The public key as browsers take it: base64url of the uncompressed P-256 point."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def message(alert: Alert) -> str:
    """The JSON the service worker turns into a notification (no paths, no media)."""
    return json.dumps(
        {"title": alert.title, "body": alert.body, "url": alert.link, "tag": alert.event.id}
    )


def checkpoint_message(notice: CheckpointNotice) -> str:
    """The JSON of a checkpoint notice: the checkpoint itself if it fits, else its head."""
    fields: dict[str, object] = {
        "title": "View log checkpoint",
        "body": f"The log of who viewed shared clips has {notice.size} entries. Open it to "
        "check and keep this checkpoint.",
        "url": "/views",
        "tag": f"checkpoint-{notice.household_id}",
    }
    full = json.dumps({**fields, "checkpoint": json.loads(notice.text)})
    if len(full.encode("utf-8")) <= MAX_PAYLOAD:
        return full
    return json.dumps({**fields, "size": notice.size, "root": notice.root})


def alarm_message(notice: HubLogAlarm) -> str:
    """The JSON of a review-hub alarm, cut to fit a push message."""
    fields = {
        "title": "The review hub's view log does not check out",
        "body": notice.body,
        "url": "/shared",
        "tag": f"hub-alarm-{notice.household_id}",
    }
    while len(json.dumps(fields).encode("utf-8")) > MAX_PAYLOAD:
        fields["body"] = fields["body"][: len(fields["body"]) * 3 // 4] + "…"
    return json.dumps(fields)


class WebPushNotifier:
    """Sends each alert to every browser subscribed in the camera's household."""

    follow_ups = False  # one notification per event

    def __init__(
        self,
        keys: VapidKeys,
        contact: str,
        targets: Callable[[str], Sequence[PushSubscription]],
        gone: Callable[[str], object],
        timeout: float = 10.0,
        allow_local: bool = False,
        resolver: Resolver = resolve,
        household_targets: Callable[[int], Sequence[PushSubscription]] = lambda _: (),
    ) -> None:
        """``contact`` is the VAPID ``sub`` claim (mailto: or https: URL) push services may use;
        an endpoint whose host now resolves into this box or its LAN is skipped unless
        ``allow_local`` (the config's ``allow_http_endpoints``). ``household_targets`` names
        the browsers a household's view log checkpoint goes to."""
        self._household_targets = household_targets
        self._allow_local, self._resolver = allow_local, resolver
        self._keys = keys
        self._contact = contact
        self._targets = targets
        self._gone = gone
        self._timeout = timeout
        self._session = requests.Session()

    @property
    def name(self) -> str:
        """The channel name in logs."""
        return "webpush"

    def send(self, alert: Alert) -> None:
        """Pushes to every target; raises at the end if any failed for another reason than gone."""
        self._push(self._targets(alert.event.camera), message(alert), TTL, "high")

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """Pushes a checkpoint notice to the household's browsers; raises as ``send`` does."""
        targets = self._household_targets(notice.household_id)
        self._push(targets, checkpoint_message(notice), CHECKPOINT_TTL, "low")

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """Pushes the alarm to the household's browsers, urgently; raises as ``send`` does."""
        targets = self._household_targets(notice.household_id)
        self._push(targets, alarm_message(notice), CHECKPOINT_TTL, "high")

    def _push(self, targets: Sequence[PushSubscription], data: str, ttl: int, urgency: str) -> None:
        failed: list[str] = []
        for target in targets:
            host = urlsplit(target.endpoint).hostname or ""
            if not self._allow_local and points_inside(host, self._resolver):
                # Checked when stored; the name may have been pointed at the LAN since.
                log.warning("webpush: %s resolves into this network now; not sent", host)
                failed.append(f"{host} resolves inside")
                continue
            try:
                webpush(
                    target.info(),
                    data=data,
                    vapid_private_key=self._keys.vapid,
                    vapid_claims={"sub": self._contact},  # a fresh dict: webpush adds aud/exp
                    timeout=self._timeout,
                    ttl=ttl,
                    headers={"Urgency": urgency},
                    requests_session=self._session,
                )
            except WebPushException as error:
                status = getattr(error.response, "status_code", None)
                if status in GONE:
                    log.info("webpush: a subscription is gone (%s); forgetting it", status)
                    self._gone(target.endpoint)
                else:
                    failed.append(f"{status or error.message}")
            except requests.RequestException as error:
                failed.append(type(error).__name__)
        if failed:
            raise RuntimeError(f"web push failed for {len(failed)} browser(s): {', '.join(failed)}")

    def close(self) -> None:
        """Closes the HTTP connections."""
        self._session.close()
