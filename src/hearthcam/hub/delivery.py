"""Sending the clips an owner shared with the review hub, and having withdrawn ones deleted there.

What leaves the home is exactly this: the redacted copy of a share whose receipt names the hub,
once the home's own checks *published* it (the scan found nothing intimate, faces and bodies
are blurred, the second face check passed). The original never leaves, nor does a copy in any
other state. It goes under a fresh random clip id (the share id stays at home), signed by the
home's key, with the digest of the owner's receipt and the receipt's keeping time, to the hub
whose key the home pinned at linking, and only if that is the hub the receipt names (a home
linked to another hub since does not send it there).

Each pass also pulls the hub's newest model when due (``hub.pull``, hourly) and checks the hub's
view log of this home's clips (``hub.monitor``, hourly), the outcome kept for the owner's app.

Withdrawal (the owner's click, an expiry, an annotator's report at home) is a
``WithdrawalListener``: the home's copies go at once whatever the hub does; the hub is asked to
delete its copy then and there, and if it cannot be reached the deletion stays pending
(``hub_deliveries``) and is asked again every pass until the hub answers with a signed deletion
receipt, which the home keeps. A withdrawal that races an upload is caught by the row made
before the upload starts.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.alerts.text import HubLogAlarm
from hearthcam.hub.client import HubClient, HubRefused
from hearthcam.hub.clips import (
    ClipFeatures,
    DeletionReceipt,
    receipt_from_json,
    receipt_to_json,
    verify_receipt,
)
from hearthcam.hub.home import (
    CHECK_FILE,
    HOME_IDENTITY,
    STATE_FILE,
    UNLINKED_FILE,
    HomeLink,
    read_json,
    read_link,
    read_state,
    state_json,
    write_private,
)
from hearthcam.hub.identity import (
    HubError,
    fingerprint_of,
    key_id_of,
    load_or_create,
    public_key_from_b64,
)
from hearthcam.pipeline.features import FEATURES_VERSION, event_features
from hearthcam.privacy.consent import Sharing, for_hub, redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.hub_deliveries import AT_HUB, DeliveryState, HubDeliveryStore
from hearthcam.store.shares import ShareRecord
from hearthcam.types import Event

log = logging.getLogger(__name__)

#: How soon a view log round or a model pull that could not reach the hub is tried again.
RETRY_S = 300.0
#: Refusals after which sending again cannot help (the hub's answer is kept for the owner).
_FINAL_REFUSALS = frozenset({413, 422})
_UNTIL_WITHDRAWN = frozenset({DeliveryState.SENDING, DeliveryState.HELD})
#: Shares an unlink ends when they were consented for that hub (disposed ones keep their row:
#: it holds only why, for the owner).
_ENDED_BY_UNLINK = (
    ShareStatus.CONSENTED,
    ShareStatus.CHECKING,
    ShareStatus.PUBLISHED,
    ShareStatus.OWNER_ONLY,
)


@dataclass(slots=True)
class DeliveryPass:
    """What one pass did: clips sent, copies deleted at the hub, what failed, and a model pull."""

    sent: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # shares whose clip the hub's checks refused
    pulled: str | None = None  # what became of a model pull, if one was due
    checked: bool | None = None  # a round of the view log check: clean, findings, or not run


def _why(error: Exception) -> str:
    if isinstance(error, httpx.HTTPError):
        return f"the hub could not be reached ({type(error).__name__}: {error})"
    return str(error)


def features_from_events(
    events: Callable[[str], Event | None],
) -> Callable[[ShareRecord], ClipFeatures | None]:
    """What goes with a share's clip for the hub's training: the numbers the verdict model reads
    from the share's event (``pipeline.features``), or None when the event is gone."""

    def of(share: ShareRecord) -> ClipFeatures | None:
        event = events(share.event_id)
        if event is None:
            return None
        values = tuple(float(v) for v in event_features(event))
        if not all(math.isfinite(v) for v in values):
            return None  # the clip goes without them rather than be refused
        return ClipFeatures(FEATURES_VERSION, values)

    return of


def owners_alarm(
    send: Callable[[HubLogAlarm], object], households: Callable[[], Sequence[int]]
) -> Callable[[str, list[str], float], None]:
    """The delivery's ``alarm``: one ``HubLogAlarm`` per household of this home, handed to
    ``send`` (the alert dispatcher's ``send_hub_alarm``)."""

    def alarm(url: str, findings: list[str], now: float) -> None:
        for household in households():
            send(HubLogAlarm(household, url, tuple(findings), now))

    return alarm


class HubDelivery:
    """Sends published hub shares to the linked hub and deletes withdrawn ones there."""

    def __init__(
        self,
        sharing: Sharing,
        deliveries: HubDeliveryStore,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        ask_wait: float = 5.0,
        pull: Callable[[HubClient, str, str], object] | None = None,
        pull_every: float = 3600.0,
        check_every: float = 3600.0,
        features: Callable[[ShareRecord], ClipFeatures | None] = lambda share: None,
        alarm: Callable[[str, list[str], float], object] = lambda url, findings, now: None,
    ) -> None:
        """``timeout``: for each request to the hub; ``ask_wait``: how long a withdrawal waits
        for a pass in progress (an upload, say) before it leaves the deletion to the loop.
        ``pull(client, home key id, hub url)`` takes the hub's newest model (``hub.pull``),
        at most every ``pull_every`` seconds; its outcome is logged. The hub's view log is
        checked every ``check_every`` seconds. ``features(share)`` is what the home's model read
        from the share's event, sent with the clip for the hub's training (None: nothing).
        ``alarm(hub url, findings, now)`` tells the owners of a round with findings, at once
        (the alert channels), every round until the owner acts."""
        self._features = features
        self._alarm = alarm
        self._check_every = check_every
        self._checked = float("-inf")
        self._linked: tuple[str, int, str, str] | None = None  # the link the times below are of
        self._pull = pull
        self._pull_every = pull_every
        self._pulled = float("-inf")
        self._ask_wait = ask_wait
        self._sharing = sharing
        self._deliveries = deliveries
        self._data_dir = data_dir
        self._clock = clock
        self._timeout = timeout
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one pass at a time (the loop, or a withdrawal's ask)

    # The link ---------------------------------------------------------------------------------

    def _client(self) -> tuple[HomeLink, HubClient, str] | None:
        """The hub this home is linked to now, a client for it and the home's key id; None
        when not linked (or the link cannot be read: logged)."""
        try:
            link = read_link(self._data_dir)
            if link is None:
                return None
            identity = load_or_create(self._data_dir / HOME_IDENTITY)
            hub_key = public_key_from_b64(link.hub_key)
        except (OSError, HubError) as error:
            log.warning("hub delivery: the link cannot be used: %s", error)
            return None
        client = HubClient(link.url, identity, hub_key=hub_key, timeout=self._timeout)
        return link, client, identity.key_id

    # Withdrawal -------------------------------------------------------------------------------

    def on_withdrawn(self, share_id: str) -> list[str]:
        """The share is withdrawn at home: its copy at the hub is to go. Asked at once; if the
        hub cannot be reached now, the deletion waits for the next pass (never raises: the
        home's own copies go whatever the hub does)."""
        delivery = self._deliveries.get(share_id)
        if delivery is None or delivery.state not in AT_HUB:
            return []
        now = self._clock()
        # Moved before anything else: an upload in flight sees it when it ends, and deletes.
        self._deliveries.move(share_id, _UNTIL_WITHDRAWN, DeliveryState.WITHDRAWING, now)
        self._wake.set()
        if self._lock.acquire(timeout=self._ask_wait):
            try:
                connected = self._client()
                if connected is not None:
                    link, client, _key_id = connected
                    with client:
                        if self._delete(client, link, share_id):
                            return ["the review hub deleted its copy (its signed receipt is kept)"]
            finally:
                self._lock.release()
        return [
            "the review hub's copy is to be deleted: it could not be asked now, and this home "
            "asks again until it answers"
        ]

    def _delete(self, client: HubClient, link: HomeLink, share_id: str) -> bool:
        """Asks the hub to delete a withdrawn share's copy; True once it is gone there."""
        delivery = self._deliveries.get(share_id)
        if delivery is None or delivery.state is not DeliveryState.WITHDRAWING:
            return delivery is not None and delivery.state not in AT_HUB
        now = self._clock()
        if delivery.hub_key != key_id_of(public_key_from_b64(link.hub_key)):
            self._deliveries.note_error(
                share_id, "sent to a hub this home is no longer linked to", now
            )
            return False
        try:
            receipt = client.withdraw_clip(delivery.clip_id)
        except HubRefused as error:
            if error.status != 404:
                self._deliveries.note_error(share_id, _why(error), now)
                return False
            gone = "the hub holds no such clip (deleted there already)"
            return self._deliveries.move(
                share_id, DeliveryState.WITHDRAWING, DeliveryState.GONE, now, error=gone
            )
        except (HubError, httpx.HTTPError) as error:
            self._deliveries.note_error(share_id, _why(error), now)
            log.warning("hub delivery: share %s not deleted at the hub yet: %s", share_id, error)
            return False
        log.info("share %s: the hub deleted its copy", share_id)
        return self._deliveries.move(
            share_id, DeliveryState.WITHDRAWING, DeliveryState.DELETED, now,
            deletion=receipt_to_json(receipt), error="",
        )  # fmt: skip

    # Passes -----------------------------------------------------------------------------------

    def run_once(self) -> DeliveryPass:
        """Takes in an unlink's receipts, deletes what is pending at the hub, then sends what
        was published for it."""
        done = DeliveryPass()
        with self._lock:
            self.take_in_unlinked()
            connected = self._client()
            if connected is None:
                return done
            link, client, key_id = connected
            self._new_link(link)
            with client:
                self._settle_orphans()
                for delivery in self._deliveries.in_state(DeliveryState.WITHDRAWING):
                    if self._delete(client, link, delivery.share_id):
                        done.deleted.append(delivery.share_id)
                    else:
                        done.failed.append(delivery.share_id)
                if link.terms is not None:
                    for share in self._to_send(link):
                        if self._send(client, link, share):
                            done.sent.append(share.id)
                        else:
                            done.failed.append(share.id)
                done.refused = self._hub_refusals(client)
                done.pulled = self._pull_due(client, link, key_id)
                done.checked = self._check_due(client, link)
        return done

    def _new_link(self, link: HomeLink) -> None:
        """A link made since the last pass (in the app or by `hub link`, the server running)
        has its view log checked and its model pulled at once, not an hour after the last
        hub's."""
        linked = (link.url, link.home_id, link.hub_key, link.linked_at)
        if linked != self._linked:
            self._linked = linked
            self._checked = self._pulled = float("-inf")

    def _check_due(self, client: HubClient, link: HomeLink) -> bool | None:
        """One round of checking the hub's view log (``hub.monitor``) when the last one is
        ``check_every`` old: held to the state the last clean round kept, which moves on only
        when nothing is found. The outcome goes to ``hub-log-check.json`` for the owner's app;
        findings are logged as errors. True: clean; False: findings; None: not due, or the hub
        could not be asked."""
        if link.log_key is None or self._clock() - self._checked < self._check_every:
            return None
        try:
            state = read_state(self._data_dir, link)
            log_key = public_key_from_b64(link.log_key)
            kept, findings = client.log_round(log_key, state, link.home_id)
        except (OSError, HubError, httpx.HTTPError) as error:
            log.warning("hub delivery: the hub's view log could not be checked: %s", error)
            self._checked = self._clock() - self._check_every + RETRY_S  # again in 5 minutes
            return None
        now = self._checked = self._clock()
        record: dict[str, object] = {"checked_at": now, "url": link.url, "ok": not findings}
        if findings:
            record["findings"] = [str(f) for f in findings]
            log.error(
                "the hub's view log does NOT check out (%d findings): %s",
                len(findings), "; ".join(str(f) for f in findings),
            )  # fmt: skip
            try:
                self._alarm(link.url, [str(f) for f in findings], now)
            except Exception:  # the page still shows it; the next round tries again
                log.exception("the owners could not be told of the hub's view log")
        else:
            write_private(self._data_dir / STATE_FILE, state_json(kept, link))
            size = 0 if kept.checkpoint is None else kept.checkpoint.size
            record |= {"views": len(kept.seen), "size": size}
        write_private(self._data_dir / CHECK_FILE, json.dumps(record, indent=2) + "\n")
        return not findings

    def _hub_refusals(self, client: HubClient) -> list[str]:
        """Held clips the hub's own checks refused (and deleted there): each delivery is
        ``refused``, with the hub's reason and its deletion receipt. The shares they came from."""
        held = {d.clip_id: d for d in self._deliveries.in_state(DeliveryState.HELD)}
        if not held:
            return []
        try:
            refused = client.refused_clips()
        except (HubError, httpx.HTTPError) as error:
            log.warning("hub delivery: the hub's refusals could not be read: %s", error)
            return []
        done = []
        for clip in refused:
            delivery = held.get(clip.clip_id)
            if delivery is None:
                continue
            why = f"the review hub's own checks refused it ({clip.reason}) and deleted it"
            receipt = None if clip.receipt is None else receipt_to_json(clip.receipt)
            if self._deliveries.move(
                delivery.share_id, DeliveryState.HELD, DeliveryState.REFUSED, self._clock(),
                error=why, deletion=receipt,
            ):  # fmt: skip
                log.warning("share %s: %s", delivery.share_id, why)
                done.append(delivery.share_id)
        return done

    def _pull_due(self, client: HubClient, link: HomeLink, key_id: str) -> str | None:
        """Pulls the hub's newest model when the last pull is ``pull_every`` old (after the
        withdrawals above went out: a model is judged against them); what became of it."""
        if self._pull is None or self._clock() - self._pulled < self._pull_every:
            return None
        try:
            outcome = self._pull(client, key_id, link.url)
        except (HubError, httpx.HTTPError) as error:
            log.warning("hub delivery: the hub's model could not be pulled: %s", error)
            self._pulled = self._clock() - self._pull_every + RETRY_S  # again in 5 minutes
            return None
        self._pulled = self._clock()
        log.info("hub model: %s", outcome)
        return str(outcome)

    def take_in_unlinked(self) -> int:
        """Records the receipts ``hearthcam hub unlink`` left (``hub.home.UNLINKED_FILE``) and
        ends every share consented for that hub; returns how many shares ended. A receipt not
        signed by the hub it names is ignored (logged); the file goes once taken in."""
        path = self._data_dir / UNLINKED_FILE
        if not path.is_file():
            return 0
        try:
            batches = read_json(path)
        except (OSError, HubError) as error:
            log.warning("hub delivery: %s cannot be read: %s", path, error)
            return 0
        ended = 0
        for batch in batches if isinstance(batches, list) else []:
            try:
                hub_key = public_key_from_b64(str(batch["hub_key"]))
                receipts = [receipt_from_json(r) for r in batch["receipts"]]
                forgotten = str(batch.get("forgotten") or "")
            except (KeyError, TypeError, AttributeError, HubError) as error:
                log.warning("hub delivery: an unlink's receipts are damaged: %s", error)
                continue
            ended += self._unlinked(hub_key, receipts, forgotten)
        path.unlink(missing_ok=True)
        return ended

    def _unlinked(
        self, hub_key: Ed25519PublicKey, receipts: list[DeletionReceipt], forgotten: str = ""
    ) -> int:
        now, key_id = self._clock(), key_id_of(hub_key)
        by_clip = {r.clip_id: r for r in receipts if verify_receipt(hub_key, r)}
        if len(by_clip) < len(receipts):
            log.warning(
                "hub delivery: %d unlink receipts not signed by the hub",
                len(receipts) - len(by_clip),
            )
        for delivery in self._deliveries.in_state(*AT_HUB):
            if delivery.hub_key != key_id:
                continue
            receipt = by_clip.get(delivery.clip_id)
            if receipt is not None:
                self._deliveries.move(
                    delivery.share_id, AT_HUB, DeliveryState.DELETED, now,
                    deletion=receipt_to_json(receipt), error="",
                )  # fmt: skip
            else:
                why = (
                    f"the link was forgotten without the hub's receipt: {forgotten}"
                    if forgotten
                    else "the hub deleted this home's clips at unlinking, naming no receipt for it"
                )
                self._deliveries.move(delivery.share_id, AT_HUB, DeliveryState.GONE, now, error=why)
        fingerprint = fingerprint_of(hub_key)
        ended = 0
        shares = self._sharing.shares
        for status in _ENDED_BY_UNLINK:
            for share in shares.with_status(status.value, limit=100_000):
                hub = share.receipt.get("hub") if for_hub(share.receipt) else None
                if hub is not None and hub.get("fingerprint") == fingerprint:
                    ended += self._sharing.withdraw(share.id) is not None
        if ended:
            log.info("hub delivery: %d shares ended with the unlink from their hub", ended)
        return ended

    def _settle_orphans(self) -> None:
        """A row whose share is gone (withdrawn while the process died mid-withdrawal, say) is
        withdrawn too: the hub must not keep what home no longer shares."""
        for delivery in self._deliveries.in_state(*_UNTIL_WITHDRAWN):
            share = self._sharing.shares.get(delivery.share_id)
            if share is None or share.status != ShareStatus.PUBLISHED.value:
                self._deliveries.move(
                    delivery.share_id, _UNTIL_WITHDRAWN, DeliveryState.WITHDRAWING, self._clock()
                )

    def _to_send(self, link: HomeLink) -> list[ShareRecord]:
        """Published shares whose receipt names this hub (by its key) and that were not sent
        yet (or whose sending was cut short)."""
        fingerprint = fingerprint_of(public_key_from_b64(link.hub_key))
        published = self._sharing.shares.with_status(ShareStatus.PUBLISHED.value, limit=10_000)
        waiting = []
        for share in published:
            if not for_hub(share.receipt) or share.receipt["hub"].get("fingerprint") != fingerprint:
                continue
            delivery = self._deliveries.get(share.id)
            if delivery is None or delivery.state is DeliveryState.SENDING:
                waiting.append(share)
        return waiting

    def _send(self, client: HubClient, link: HomeLink, share: ShareRecord) -> bool:
        now = self._clock()
        hub_key = key_id_of(public_key_from_b64(link.hub_key))
        delivery = self._deliveries.get(share.id)
        if delivery is None:
            clip_id = secrets.token_hex(16)
            if not self._deliveries.begin(share.id, clip_id, share.household_id, hub_key, now):
                return False
        else:
            clip_id = delivery.clip_id
        try:
            with self._sharing.media.open(redacted_path(self._sharing.data_dir, share.id)) as f:
                data = f.read()
        except Exception as error:  # withdrawn meanwhile, a key shredded: nothing to send
            self._deliveries.note_error(share.id, f"the redacted copy cannot be read: {error}", now)
            return False
        keep_until = int(share.expires)
        try:
            sha256 = client.send_clip(
                clip_id, data, share.receipt_sha256, keep_until, self._features(share)
            )
        except HubRefused as error:
            if error.status == 409 and self._held(client, clip_id, len(data)):
                sha256 = ""  # an earlier try reached it; the hub holds this many bytes
            elif error.status in _FINAL_REFUSALS:
                self._deliveries.move(
                    share.id, DeliveryState.SENDING, DeliveryState.REFUSED, now, error=str(error)
                )
                return False
            else:
                self._deliveries.note_error(share.id, _why(error), now)
                return False
        except (HubError, httpx.HTTPError) as error:
            self._deliveries.note_error(share.id, _why(error), now)
            log.warning("hub delivery: share %s not sent yet: %s", share.id, error)
            return False
        moved = self._deliveries.move(
            share.id, DeliveryState.SENDING, DeliveryState.HELD, self._clock(),
            sent=self._clock(), sha256=sha256, size=len(data), error="",
        )  # fmt: skip
        if not moved:  # withdrawn while it was sent: the copy that arrived goes at once
            self._delete(client, link, share.id)
            return False
        log.info("share %s sent to the hub (%d bytes)", share.id, len(data))
        return True

    def _held(self, client: HubClient, clip_id: str, size: int) -> bool:
        """Whether the hub lists ``clip_id`` with ``size`` bytes (a 409 to a send retried after
        an answer was lost)."""
        try:
            return any(c.clip_id == clip_id and c.size == size for c in client.clips())
        except (HubError, httpx.HTTPError):
            return False

    def notify(self) -> None:
        """Wakes ``run_forever`` (a share was published, or is to be deleted at the hub)."""
        self._wake.set()

    def run_forever(
        self, stop: threading.Event, interval: float = 30.0, longest: float = 900.0
    ) -> None:
        """Passes until ``stop``; wakes on ``notify`` or every ``interval``. While every pass
        fails (the hub is away), the wait doubles up to ``longest``; a success or a ``notify``
        (a new share, a withdrawal) brings it back."""
        wait = interval
        while not stop.is_set():
            try:
                done = self.run_once()
                stuck = bool(done.failed) and not (done.sent or done.deleted)
            except Exception:  # a database hiccup: tried again next pass
                log.exception("hub delivery failed; trying again later")
                stuck = True
            wait = min(wait * 2, longest) if stuck else interval
            deadline = time.monotonic() + wait
            while not (stop.is_set() or self._wake.is_set()) and time.monotonic() < deadline:
                self._wake.wait(0.5)
            if self._wake.is_set():
                wait = interval
            self._wake.clear()
