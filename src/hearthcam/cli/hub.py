"""``hearthcam hub serve|code|publish-model|link|check|unlink``: the review hub from the CLI.

``serve``, ``code`` and ``publish-model`` are the hub operator's: a hub on its own database (its
registry of homes and its view log), the one-time codes homes link with, and the models it signs
for them. ``link``, ``check`` and ``unlink`` are
a home's: the home's hub identity lives in ``secrets/hub-identity.pem`` under its data
directory, the link in ``hub.json`` beside it (the hub's address, the home's id there and the
hub's two keys, pinned), and what the home accepted of the hub's view log in
``hub-log-state.json``, so that each ``check`` is held to the last one (``hub.monitor``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from hearthcam.errors import HearthcamError
from hearthcam.hub.home import (
    HOME_IDENTITY,
    STATE_FILE,
    gossip_json,
    read_gossip,
    read_state,
    state_json,
)
from hearthcam.hub.home import HomeLink as _Link
from hearthcam.hub.home import LinkDamaged as _Damaged
from hearthcam.hub.home import write_private as _write_private
from hearthcam.hub.identity import HubError

if TYPE_CHECKING:
    from hearthcam.hub.checks import RemoteChecks
    from hearthcam.hub.client import HubClient
    from hearthcam.hub.identity import Identity
    from hearthcam.hub.monitor import HomeLogState
    from hearthcam.hub.registry import HubRegistry
    from hearthcam.hub.terms import HubTerms
    from hearthcam.hub.training import Fitted
    from hearthcam.pipeline.detect import Detector
    from hearthcam.store.db import Store
    from hearthcam.viewlog.signing import Checkpoint

from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out
from hearthcam.cli.stopping import Phase, StartInterrupted, StopSignals

hub_cli = typer.Typer(
    no_args_is_help=True,
    help="The review hub: serve one, add its annotators and train (operator); link this home to "
    "one, check its view log and compare checkpoints with other homes (owner).",
)
cli.add_typer(hub_cli, name="hub")

HUB_IDENTITY: Final = "hub-identity.pem"  # under the hub's --data directory
HUB_AUDIT_KEY: Final = "hub-audit-ed25519.pem"  # under the hub's --data directory
HUB_CLIPS: Final = "clips"  # the clips homes sent, sealed, under the hub's --data directory
DEFAULT_PORT: Final = 8470
SWEEP_S: Final = 60.0  # how often `serve` deletes the clips past their keeping time
ORPHANS_S: Final = 3600.0  # how often `serve` removes sealed files no clip names

DatabaseOption = Annotated[
    str,
    typer.Option(
        "--database",
        help="the hub's database: sqlite:///path/hub.db or postgresql+psycopg://user:pw@host/name",
    ),
]


def _one_line(error: BaseException) -> str:
    """An error as one line: SQLAlchemy's "(Background on this error ...)" line dropped."""
    lines = [line for line in str(error).splitlines() if not line.startswith("(Background on")]
    return " ".join(" ".join(lines).split()) or type(error).__name__


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What a hub command reports as one line: our errors (HubError, HubRefused and
    SignatureError among them), the database's and the file system's."""
    from sqlalchemy.exc import SQLAlchemyError

    return (HearthcamError, SQLAlchemyError, OSError)


# --- the hub's side ----------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def _check_port(host: str, port: int) -> None:
    """A one-line refusal if ``host:port`` cannot be bound now, before anything is made or
    migrated (``start_hub`` binds it again)."""
    from hearthcam.threaded_server import cannot_bind

    why = cannot_bind(host, port)
    if why is not None:
        raise fail(f"hub serve: cannot listen on {host}:{port}: {why}")


def _check_database_url(url: str, command: str) -> None:
    """A one-line refusal for a ``--database`` that is no SQLAlchemy URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:
        raise fail(
            f"{command}: --database {url!r} is not a database URL "
            "(sqlite:///path/hub.db or postgresql+psycopg://user:pw@host/name)"
        ) from None


@contextlib.contextmanager
def _hub_database(url: str) -> Iterator[tuple[Store, HubRegistry]]:
    """The hub's database opened as ``serve`` opens it: migrated first (``Store.open``), then
    the registry's tables; both closed after."""
    from hearthcam.hub.registry import HubRegistry
    from hearthcam.store.db import Store

    with Store.open(url) as store:
        registry = HubRegistry.open(url)
        try:
            yield store, registry
        finally:
            registry.close()


@hub_cli.command("serve")
def hub_serve(
    database: DatabaseOption,
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="where the hub keeps its identity and its view log's signing key"
        ),
    ],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="port to listen on (0: any free one)")
    ] = DEFAULT_PORT,
    public: Annotated[
        bool,
        typer.Option(
            "--public", help="allow an address other than loopback (put TLS in front of it)"
        ),
    ] = False,
    operator: Annotated[
        str | None,
        typer.Option(help="who runs this hub, as owners' consent receipts name it"),
    ] = None,
    annotators_in: Annotated[
        str | None,
        typer.Option(help="where this hub's annotators work (a country or region), for receipts"),
    ] = None,
    keep_days: Annotated[
        int, typer.Option(min=1, max=3650, help="the most days this hub keeps a shared clip")
    ] = 30,
    quota: Annotated[
        int, typer.Option(min=1, max=100_000, help="leases an annotator may take per UTC day")
    ] = 200,
    lease_minutes: Annotated[
        float, typer.Option(min=1, max=240, help="minutes an annotator holds a clip")
    ] = 10.0,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="a TLS proxy in front (address or network) whose X-Forwarded-For is believed; "
            "repeat for more"
        ),
    ] = None,
    copy_workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="watermarked copies made at once for annotators (a core each)"
        ),
    ] = 1,
    train_hours: Annotated[
        float,
        typer.Option(
            min=0,
            max=24 * 365,
            help="train a model on the annotated clips at most this often (0: only `hub train`)",
        ),
    ] = 24.0,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="HEAD",
            help="run the clips' checks and the training on the Ray cluster whose head is at "
            "HOST:PORT (every node reaches the database and the same --data folder)",
        ),
    ] = None,
) -> None:
    """Run a hub in the foreground until SIGINT/SIGTERM; `hearthcam hub code` makes link codes.

    Its identity and its view log's signing key are made in --data at the first start. Homes
    share clips with it only when it states its terms (--operator and --annotators-in)."""
    if not public and not _is_loopback(host):
        raise fail(
            f"hub serve: --host {host} is not a loopback address; the hub speaks plain HTTP, so "
            "put TLS in front of it (a reverse proxy) and pass --public"
        )
    terms = _serve_terms(operator, annotators_in, keep_days)
    proxies = _proxies(trusted_proxy or [])
    _check_database_url(database, "hub serve")
    if ray is not None and database.startswith("sqlite"):
        raise fail(
            "hub serve: --ray needs a database every node reaches: give a PostgreSQL --database"
        )
    _check_port(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with StopSignals() as signals:
        try:
            desk = _DeskTerms(quota, lease_minutes, train_hours, copy_workers, proxies, ray)
            _serve(database, data.expanduser(), host, port, public, signals, terms, desk)
        except StartInterrupted as stopped:
            signals.enter(Phase.STOPPING)
            err.print(str(stopped), highlight=False, markup=False, soft_wrap=True)
            return
    err.print("stopped cleanly", highlight=False)


def _serve_terms(
    operator: str | None, annotators_in: str | None, keep_days: int
) -> HubTerms | None:
    """The terms ``serve`` states; None when neither is given; a one-line refusal when only
    one is, or one is not whole."""
    from hearthcam.hub.terms import HubTerms, TermsError

    if operator is None and annotators_in is None:
        return None
    if operator is None or annotators_in is None:
        raise fail("hub serve: give both --operator and --annotators-in (or neither)")
    try:
        return HubTerms(operator, annotators_in, keep_days)
    except TermsError as error:
        raise fail(f"hub serve: --{str(error).replace('_', '-')}") from None


def _proxies(entries: list[str]) -> tuple[str, ...]:
    """The --trusted-proxy networks as given; a one-line refusal naming one that is none."""
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise fail(
                f"hub serve: --trusted-proxy {entry!r} is not an address or network "
                "(127.0.0.1, 10.0.0.0/8, ::1)"
            ) from None
    return tuple(entries)


@dataclass(frozen=True, slots=True)
class _DeskTerms:
    """The workbench's rules ``serve`` was given, and where its checks and training run."""

    quota: int
    lease_minutes: float
    train_hours: float
    copy_workers: int
    proxies: tuple[str, ...]
    ray: str | None  # the Ray cluster's head that checks and trains, or None: this process


def _each(*listeners: Callable[[int, str, float], object]) -> Callable[[int, str, float], None]:
    """One deletion listener that tells each of ``listeners`` (a failing one does not keep the
    others from hearing)."""

    def tell(home_id: int, clip_id: str, now: float) -> None:
        for listener in listeners:
            try:
                listener(home_id, clip_id, now)
            except Exception:
                logging.getLogger(__name__).exception("a clip deletion listener failed")

    return tell


def _serve(
    database: str,
    data: Path,
    host: str,
    port: int,
    public: bool,
    signals: StopSignals,
    terms: HubTerms | None,
    desk_terms: _DeskTerms,
) -> None:
    """Opens the hub's keys and database, serves until a stop signal, stops in order."""
    from hearthcam.accounts import Accounts
    from hearthcam.hub.checks import HubChecks, ModelInspector
    from hearthcam.hub.clips import HubClips
    from hearthcam.hub.desk import HubDesk
    from hearthcam.hub.identity import load_or_create
    from hearthcam.hub.models import HubModels
    from hearthcam.hub.server import hub_app, start_hub
    from hearthcam.hub.training import TrainingSchedule
    from hearthcam.hub.workbench import HubWorkbench
    from hearthcam.viewlog.log import AuditLog
    from hearthcam.viewlog.signing import AuditKey
    from hearthcam.web.client_address import TrustedProxies

    with contextlib.ExitStack() as started:
        try:
            identity = load_or_create(data / HUB_IDENTITY)
            key = AuditKey.load_or_create(data / HUB_AUDIT_KEY)
            signals.check()
            store, registry = started.enter_context(_hub_database(database))
            signals.check()
            models = HubModels.from_url(database, identity)
            started.callback(models.close)
            # A deleted clip (withdrawn, unlinked, expired, refused) retires the models that
            # learned it and takes its leases and annotations with it.
            forget: list[Callable[[int, str, float], object]] = []
            clips = HubClips.from_url(
                database, data / HUB_CLIPS, identity,
                on_deleted=_each(models.retire_clip, lambda h, c, n: [f(h, c, n) for f in forget]),
            )  # fmt: skip
            started.callback(clips.close)
            # The hub's own checks of each clip before anyone may be offered it (models load at
            # the first clip), in a worker of its own, or as tasks on a Ray cluster.
            remote, fitter = _on_ray(desk_terms.ray, database, data / HUB_CLIPS)
            checks = HubChecks.from_url(database, clips, ModelInspector, remote=remote)
            started.callback(checks.close)
            audit = AuditLog(store, key)
            desk = HubDesk.from_url(
                database, clips, checks, audit, detector=_prelabeller,
                daily_quota=desk_terms.quota, lease_minutes=desk_terms.lease_minutes,
                copy_workers=desk_terms.copy_workers,
            )  # fmt: skip
            started.callback(desk.close)
            forget.append(desk.forget_clip)
            workbench = HubWorkbench(
                Accounts(store), desk, secure_cookies=public,
                proxies=TrustedProxies.parse(desk_terms.proxies),
            )  # fmt: skip
            app = hub_app(
                registry, identity, log=audit, clips=clips, terms=terms, models=models,
                checks=checks, workbench=workbench,
            )  # fmt: skip
            server = start_hub(app, host, port)
            started.callback(server.stop)
            signals.check()
        except StartInterrupted:
            signals.enter(Phase.STOPPING)  # a second signal while unwinding exits at once
            raise
        except _hub_errors() as error:
            signals.enter(Phase.STOPPING)
            started.close()
            raise fail(f"hub serve: {_one_line(error)}") from None
        checking = threading.Thread(
            target=checks.run_forever, args=(signals.stop,), name="hub-checks", daemon=True
        )
        checking.start()
        if desk_terms.train_hours > 0:
            every = desk_terms.train_hours * 3600.0
            schedule = TrainingSchedule(clips, models, every, fitter=fitter)
            threading.Thread(
                target=schedule.run_forever, args=(signals.stop,), name="hub-training",
                daemon=True,
            ).start()  # fmt: skip
        signals.enter(Phase.RUNNING)
        say = [
            f"hub at {_url(host, server.port)} (database {_shown(database)}, keys in {data})",
            f"the hub's fingerprint: {identity.fingerprint()}",
            "homes compare it with the one `hearthcam hub link` shows them; "
            "make a link code with `hearthcam hub code`",
            f"annotators sign in at {_url(host, server.port)}/ (add one with "
            "`hearthcam hub annotator add NAME`)",
        ]
        if terms is None:
            say.append(
                "no terms stated (--operator, --annotators-in): homes cannot share clips here"
            )
        if public:
            say.append("listening beyond loopback: only a TLS proxy in front should reach it")
        if desk_terms.ray is not None:
            say.append(
                f"the clips' checks and the training run on the Ray cluster at {desk_terms.ray}"
            )
        for line in say:
            err.print(line, highlight=False, markup=False, soft_wrap=True)
        swept = orphans = float("-inf")
        while not signals.stop.wait(0.5):
            if not server.thread.is_alive():
                signals.enter(Phase.STOPPING)
                raise fail("hub serve: the server stopped on its own (see the log above)", 1)
            if time.monotonic() - swept >= SWEEP_S:  # clips past the time their homes consented
                swept = time.monotonic()
                try:
                    clips.expire(time.time())
                except _hub_errors() as error:
                    logging.getLogger(__name__).warning("expiring clips failed: %s", error)
            if time.monotonic() - orphans >= ORPHANS_S:  # files a crash left without a key
                orphans = time.monotonic()
                try:
                    clips.sweep(time.time())
                except _hub_errors() as error:
                    logging.getLogger(__name__).warning(
                        "sweeping the clips folder failed: %s", error
                    )
        signals.enter(Phase.STOPPING)


def _on_ray(
    head: str | None, database: str, clips: Path
) -> tuple[RemoteChecks | None, Callable[[int], Fitted] | None]:
    """The checks and the fitter on the Ray cluster at ``head`` (joined now: ClusterError at
    once if nothing answers), or (None, None): in this process."""
    if head is None:
        return None, None
    from hearthcam.hub.remote import RayChecks, RayTraining, connect, settings_of

    connect(head)
    settings = settings_of(database, clips)
    return RayChecks(settings), RayTraining(settings)


def _prelabeller() -> Detector | None:
    """The detector that pre-labels a lease's keyframes (the default model of the homes)."""
    from hearthcam.config import DetectorConfig
    from hearthcam.pipeline.detect import load_detector

    return load_detector(DetectorConfig())


def _shown(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@hub_cli.command("code")
def hub_code(
    database: DatabaseOption,
    ttl_minutes: Annotated[
        int, typer.Option(min=1, max=24 * 60, help="minutes the code stays valid")
    ] = 10,
    note: Annotated[str, typer.Option(help="for you: whom the code is for")] = "",
) -> None:
    """Print a new one-time link code for a home's owner (only its hash is kept)."""
    _existing_hub(database, "hub code")
    now = time.time()
    try:
        with _hub_database(database) as (_store, registry):
            code = registry.new_code(now, ttl_minutes * 60.0, note)
    except _hub_errors() as error:
        raise fail(f"hub code: {_one_line(error)}") from None
    expires = datetime.fromtimestamp(now + ttl_minutes * 60, UTC).strftime("%Y-%m-%d %H:%M:%S")
    out.print(code, highlight=False, markup=False)
    err.print(
        f"one use, expires {expires} UTC (in {ttl_minutes} minutes); the home's owner runs "
        f"`hearthcam hub link URL {code}`",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@hub_cli.command("publish-model")
def hub_publish_model(
    model: Annotated[Path, typer.Argument(help="a verdict model file (hearthcam's ONNX format)")],
    database: DatabaseOption,
    data: Annotated[Path, typer.Option("--data", help="where the hub keeps its identity")],
) -> None:
    """Sign a verdict model and offer it to the linked homes (they judge it before serving it).

    Its lineage is every clip the hub holds now: a withdrawal of any of them retires it."""
    from hearthcam.hub.identity import load_or_create
    from hearthcam.hub.models import HubModels
    from hearthcam.pipeline.features import FEATURES_VERSION
    from hearthcam.pipeline.learned import ModelFileError, VerdictNet

    _check_database_url(database, "hub publish-model")
    identity_path = data.expanduser() / HUB_IDENTITY
    if not identity_path.is_file():
        raise fail(f"hub publish-model: no hub identity at {identity_path} (run `hub serve` once)")
    try:
        payload = model.read_bytes()
        VerdictNet.from_bytes(payload)
    except OSError as error:
        raise fail(f"hub publish-model: cannot read {model}: {error.strerror or error}") from None
    except ModelFileError as error:
        raise fail(f"hub publish-model: {model}: {_one_line(error)}") from None
    try:
        models = HubModels.from_url(database, load_or_create(identity_path))
        try:
            lineage = models.held_tokens()
            signed = models.publish(payload, lineage, FEATURES_VERSION, time.time())
        finally:
            models.close()
    except _hub_errors() as error:
        raise fail(f"hub publish-model: {_one_line(error)}") from None
    out.print(signed.model_id, highlight=False, markup=False)
    err.print(
        f"signed and offered: {len(payload)} bytes, lineage {len(lineage)} clips",
        highlight=False,
        markup=False,
    )


@hub_cli.command("train")
def hub_train(
    database: DatabaseOption,
    data: Annotated[Path, typer.Option("--data", help="where the hub keeps its identity")],
    seed: Annotated[int, typer.Option(help="the draw of held-out homes and the forest's")] = 0,
) -> None:
    """Train, judge on held-out homes, sign and offer a model of every home's annotations.

    Homes judge it again on their own annotations before serving it. Its lineage is the clips
    it learned from: a withdrawal of any of them retires it."""
    from hearthcam.hub.clips import HubClips
    from hearthcam.hub.identity import load_or_create
    from hearthcam.hub.models import HubModels
    from hearthcam.hub.training import train_pooled

    _existing_hub(database, "hub train")
    identity_path = data.expanduser() / HUB_IDENTITY
    if not identity_path.is_file():
        raise fail(f"hub train: no hub identity at {identity_path} (run `hub serve` once)")
    try:
        with contextlib.ExitStack() as opened:
            identity = load_or_create(identity_path)
            models = HubModels.from_url(database, identity)
            opened.callback(models.close)
            clips = HubClips.from_url(
                database, data.expanduser() / HUB_CLIPS, identity, on_deleted=models.retire_clip
            )
            opened.callback(clips.close)
            with err.status("training on the pooled annotations…"):
                outcome = train_pooled(clips, models, time.time(), seed)
    except _hub_errors() as error:
        raise fail(f"hub train: {_one_line(error)}") from None
    held = outcome.held_out
    lines = [
        f"trained on {outcome.examples} annotated clips from {outcome.homes} homes",
        (
            "one home only: no held-out figures"
            if held is None
            else (
                f"on {held.held_out_homes} held-out homes ({held.model.events} clips, trained "
                f"without them): threat recall {held.model.threat_recall:.2f} "
                f"(rules {held.rules.threat_recall:.2f}), false alerts {held.model.false_alerts} "
                f"(rules {held.rules.false_alerts}); "
                f"{'better than' if held.beats_rules else 'not better than'} the rules: {held.why}"
            )
        ),
        f"signed and offered as {outcome.model.model_id} "
        f"(lineage {len(outcome.model.lineage)} clips)",
    ]
    for line in lines:
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    out.print(outcome.model.model_id, highlight=False, markup=False)


# --- the home's side ---------------------------------------------------------------------------


def _data_dir(config: Path | None) -> Path:
    return load(config).data_dir.expanduser().absolute()


def _read_link(data_dir: Path, command: str) -> _Link:
    """The link in ``hub.json``; a one-line refusal (exit 2) if there is none or it is damaged."""
    from hearthcam.hub.linking import NotLinked, current_link

    try:
        return current_link(data_dir)
    except NotLinked as error:
        raise fail(f"{command}: {error}; run `hearthcam hub link URL CODE` first") from None
    except HubError as error:
        raise fail(f"{command}: {error}") from None


def _home_identity(data_dir: Path, command: str) -> Identity:
    """The home's hub identity, which must exist once the home is linked."""
    from hearthcam.hub.linking import home_identity

    try:
        return home_identity(data_dir)
    except HubError as error:
        raise fail(f"{command}: {error}") from None


def _client(link: _Link, identity: Identity) -> HubClient:
    from hearthcam.hub.linking import client_for

    return client_for(link, identity)


@hub_cli.command("link")
def hub_link(
    url: Annotated[str, typer.Argument(help="the hub's address, as its operator gave it")],
    code: Annotated[str, typer.Argument(help="the one-time code the hub's operator gave you")],
    config: ConfigOption = None,
    name: Annotated[
        str | None,
        typer.Option(help="how the hub's operator sees this home (default: this machine's name)"),
    ] = None,
) -> None:
    """Link this home to a hub with a one-time code; compare the fingerprint it shows.

    The link is kept in hub.json in the data directory, the home's key in secrets/."""
    from hearthcam.hub.linking import AlreadyLinked, check_hub_address, link_home

    try:
        check_hub_address(url)  # before the config is read, as always
    except HubError as error:
        raise fail(f"hub link: {error}") from None
    data_dir = _data_dir(config)
    try:
        link = link_home(data_dir, url, code, name)
    except AlreadyLinked as error:
        raise fail(
            f"hub link: {error}; run `hearthcam hub unlink` first to link it elsewhere"
        ) from None
    except _hub_errors() as error:
        raise fail(f"hub link: {_one_line(error)}") from None
    for line in (
        f"linked to the hub at {link.url} as home {link.home_id}",
        f"the hub's fingerprint: {link.fingerprint}",
        "compare it with the one the hub's operator shows; if they differ, run "
        "`hearthcam hub unlink` and tell them",
        _terms_line(link.terms),
    ):
        out.print(line, highlight=False, markup=False, soft_wrap=True)


def _terms_line(terms: HubTerms | None) -> str:
    if terms is None:
        return "the hub states no terms for shared clips: clips cannot be shared with it"
    return (
        f"its terms for the clips you share there: run by {terms.operator}, annotators in "
        f"{terms.annotators_in}, each clip kept at most {terms.keep_days} days"
    )


def _read_state(data_dir: Path, link: _Link) -> HomeLogState:
    """What the last clean check kept; a home that has kept nothing (for this link) starts
    from nothing."""
    path = data_dir / STATE_FILE
    try:
        return read_state(data_dir, link)
    except OSError as error:
        raise fail(f"hub check: cannot read {path}: {error.strerror or error}") from None
    except _Damaged as error:
        raise fail(
            f"hub check: the kept log state {path} is damaged ({error}); restore it from your "
            "backup, or move it aside to start over (the next check then trusts the hub's log "
            "as it is now)"
        ) from None


@hub_cli.command("check")
def hub_check(config: ConfigOption = None) -> None:
    """Check the hub's view log of this home's clips; exit 1 naming what an honest hub cannot show.

    Each check is held to the one before (a log cut back, rewritten or forked, an entry changed
    or gone is named, and named again at every check until you act)."""
    from hearthcam.hub.identity import public_key_from_b64

    data_dir = _data_dir(config)
    link = _read_link(data_dir, "hub check")
    if link.log_key is None:
        raise fail(f"hub check: the hub at {link.url} keeps no view log to check")
    state = _read_state(data_dir, link)
    identity = _home_identity(data_dir, "hub check")
    try:
        log_key = public_key_from_b64(link.log_key)
        with _client(link, identity) as client:
            kept, findings = client.log_round(log_key, state, link.home_id)
    except _hub_errors() as error:
        raise fail(f"hub check: {_one_line(error)}") from None
    if findings:
        for finding in findings:
            err.print(f"  {finding}", highlight=False, markup=False, soft_wrap=True)
        err.print(
            f"[bold red]the hub's view log does NOT check out:[/] {len(findings)} findings; "
            "the checkpoint kept stays, so every check names them until you act",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    path = data_dir / STATE_FILE
    try:
        _write_private(path, state_json(kept, link))
    except OSError as error:
        raise fail(f"hub check: cannot write {path}: {error.strerror or error}") from None
    views = len(kept.seen)
    size = 0 if kept.checkpoint is None else kept.checkpoint.size
    out.print(
        f"the hub's view log checks out: {views} {'view' if views == 1 else 'views'} of your "
        f"clips (the log holds {size} entries)",
        highlight=False,
        soft_wrap=True,
    )


def _kept_checkpoint(data_dir: Path, link: _Link, command: str) -> Checkpoint:
    """The checkpoint this home's last clean check kept; a one-line refusal when none."""
    if link.log_key is None:
        raise fail(f"{command}: the hub at {link.url} keeps no view log")
    kept = _read_state(data_dir, link).checkpoint
    if kept is None:
        raise fail(f"{command}: no checkpoint kept yet: run `hearthcam hub check` first")
    return kept


@hub_cli.command("checkpoint")
def hub_checkpoint(config: ConfigOption = None) -> None:
    """Print the hub's checkpoint this home's last clean check kept, for another home.

    The other home of the same hub runs `hearthcam hub compare FILE`: a hub that shows two homes
    different logs is caught when they compare."""
    data_dir = _data_dir(config)
    link = _read_link(data_dir, "hub checkpoint")
    kept = _kept_checkpoint(data_dir, link, "hub checkpoint")
    assert link.log_key is not None  # _kept_checkpoint refused otherwise
    out.print(
        gossip_json(kept, link.log_key), highlight=False, markup=False, end="", soft_wrap=True
    )


@hub_cli.command("compare")
def hub_compare(
    other: Annotated[
        Path, typer.Argument(help="another home's `hearthcam hub checkpoint` output, saved")
    ],
    config: ConfigOption = None,
) -> None:
    """Compare another home's checkpoint of the hub's view log with this home's.

    Exit 1 when both cannot be heads of one log (the hub showed the two homes different logs)."""
    from hearthcam.hub.client import HubRefused
    from hearthcam.hub.identity import public_key_from_b64
    from hearthcam.hub.monitor import Alarm, Finding, compare_checkpoints

    data_dir = _data_dir(config)
    link = _read_link(data_dir, "hub compare")
    mine = _kept_checkpoint(data_dir, link, "hub compare")
    assert link.log_key is not None
    try:
        log_key_b64, theirs = read_gossip(other.read_text())
    except OSError as error:
        raise fail(f"hub compare: cannot read {other}: {error.strerror or error}") from None
    except _Damaged as error:
        raise fail(f"hub compare: {other} is not a hub checkpoint: {error}") from None
    if log_key_b64 != link.log_key:
        raise fail(
            f"hub compare: {other} is a checkpoint of another hub's view log (signed by another "
            "key): nothing to compare"
        )
    log_key = public_key_from_b64(link.log_key)
    low, high = sorted((mine.size, theirs.size))
    # Signatures first (a checkpoint the hub did not sign says nothing of its log); then the
    # hub's proof that the smaller is a prefix of the larger.
    finding = compare_checkpoints(log_key, mine, theirs, ())
    signed = mine.signed_by(log_key) and theirs.signed_by(log_key)
    if signed and 0 < low < high:
        try:
            with _client(link, _home_identity(data_dir, "hub compare")) as client:
                finding = compare_checkpoints(log_key, mine, theirs, client.consistency(low, high))
        except HubRefused as error:
            if error.status != 422:
                raise fail(f"hub compare: {_one_line(error)}") from None
            # It signed a checkpoint of `high` entries, yet its log holds fewer now.
            finding = Finding(Alarm.SHRUNK, None, f"the hub signed {high} entries: {error.detail}")
        except _hub_errors() as error:
            raise fail(f"hub compare: {_one_line(error)}") from None
    if finding is not None:
        err.print(f"  {finding}", highlight=False, markup=False, soft_wrap=True)
        err.print(
            "[bold red]the hub showed the two homes different view logs[/]: keep both "
            "checkpoints as evidence, withdraw what you shared there and unlink",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    out.print(
        f"the two checkpoints are of one log: {mine.size} entries here, {theirs.size} there",
        highlight=False,
        soft_wrap=True,
    )


@hub_cli.command("unlink")
def hub_unlink(
    config: ConfigOption = None,
    forget: Annotated[
        bool,
        typer.Option(
            "--forget",
            help="if the hub no longer knows this home, or cannot be reached, forget the link "
            "here without its receipts (an unreachable hub may keep your shared clips until "
            "their keep time)",
        ),
    ] = False,
) -> None:
    """Unlink this home from its hub; the hub refuses this home's key from then on.

    The home keeps its identity: linked again to the same hub, it is the same home."""
    from hearthcam.hub.linking import unlink_home

    data_dir = _data_dir(config)
    _read_link(data_dir, "hub unlink")  # the CLI's own words for a home not linked
    try:
        done = unlink_home(data_dir, forget=forget)
    except _hub_errors() as error:
        raise fail(f"hub unlink: {_one_line(error)}") from None
    if done.forgotten:
        out.print(
            f"forgot the link to the hub at {done.link.url}: {done.forgotten}, so no clip was "
            "deleted there with a receipt; the home's server ends the shares made for it",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return
    deleted = len(done.receipts)
    out.print(
        f"the hub deleted the {deleted} {'clip' if deleted == 1 else 'clips'} this home shared "
        "there and signed a receipt for each; the home's server records them and ends those "
        "shares (at once if it runs, else when it starts)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"unlinked from the hub at {done.link.url}; this home's identity stays at "
        f"{data_dir / HOME_IDENTITY}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


# --- the hub's people --------------------------------------------------------------------------

annotator_cli = typer.Typer(
    no_args_is_help=True,
    help="The hub's annotators and admins: add one (a one-time enrolment link), list, remove.",
)
hub_cli.add_typer(annotator_cli, name="annotator")


def _existing_hub(database: str, command: str) -> None:
    """A one-line refusal for a database that is no URL, or a SQLite file that does not exist."""
    from sqlalchemy.engine import make_url

    _check_database_url(database, command)
    parsed = make_url(database)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database)).expanduser()
        if not path.is_file():
            raise fail(f"{command}: no hub database at {path} (`hearthcam hub serve` makes it)")


@annotator_cli.command("add")
def annotator_add(
    name: Annotated[str, typer.Argument(help="the new account's username")],
    database: DatabaseOption,
    url: Annotated[
        str, typer.Option(help="the hub's address as annotators reach it (for the link)")
    ] = f"http://127.0.0.1:{DEFAULT_PORT}",
    admin: Annotated[
        bool, typer.Option("--admin", help="an admin (the operator's page), not an annotator")
    ] = False,
) -> None:
    """Add an annotator (or admin) and print their one-time enrolment link (valid 72 hours).

    They open it to choose their own password and set up two-factor sign-in: the operator never
    learns either."""
    from hearthcam.accounts import Accounts, Role

    _existing_hub(database, "hub annotator add")
    role = Role.ADMIN if admin else Role.ANNOTATOR
    try:
        with _hub_database(database) as (store, _registry):
            invitation = Accounts(store).enrolment.invite(name, role, None, time.time())
    except _hub_errors() as error:
        raise fail(f"hub annotator add: {_one_line(error)}") from None
    expires = datetime.fromtimestamp(invitation.expires, UTC).strftime("%Y-%m-%d %H:%M")
    link = f"{url.rstrip('/')}/enrol#{invitation.token}"
    out.print(link, highlight=False, markup=False, soft_wrap=True)  # one line, however long
    err.print(
        f"{role.value} {invitation.user.username} added; send them this link (one use, expires "
        f"{expires} UTC): they choose their password and set up two-factor sign-in there",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@annotator_cli.command("list")
def annotator_list(database: DatabaseOption) -> None:
    """List the hub's annotators and admins, and whether each has enrolled."""
    from hearthcam.accounts import Accounts

    _existing_hub(database, "hub annotator list")
    try:
        with _hub_database(database) as (store, _registry):
            users = Accounts(store).list_users()
    except _hub_errors() as error:
        raise fail(f"hub annotator list: {_one_line(error)}") from None
    if not users:
        err.print("nobody yet: `hearthcam hub annotator add NAME`", highlight=False)
    for user in users:
        state = "two-factor on" if user.totp_enabled else "not enrolled yet"
        out.print(f"{user.username}\t{user.role.value}\t{state}", highlight=False, markup=False)


@annotator_cli.command("remove")
def annotator_remove(
    name: Annotated[str, typer.Argument(help="the account's username")],
    database: DatabaseOption,
) -> None:
    """Remove an annotator or admin: their sessions end at once (their annotations stay)."""
    from hearthcam.accounts import Accounts, username_key

    _existing_hub(database, "hub annotator remove")
    try:
        with _hub_database(database) as (store, _registry):
            accounts = Accounts(store)
            found = [
                u for u in accounts.list_users() if username_key(u.username) == username_key(name)
            ]
            if not found:
                raise fail(f"hub annotator remove: no account named {name!r}")
            accounts.delete_user(found[0].id)
    except _hub_errors() as error:
        raise fail(f"hub annotator remove: {_one_line(error)}") from None
    err.print(f"{found[0].username} removed; their sessions ended", highlight=False)
