"""The commands that change a data directory's state from the command line (add a user, promote,
roll back or train a model), run by whoever holds the data directory.

``send`` is what a CLI command calls: when a server holds the data directory's lock the request
goes over its control socket (``control``) and the server's own services run it; when nobody
holds it the command takes the lock for its duration and runs here, on a store opened without
start-up recovery (recovery belongs to ``run``, ``analyze`` and ``demo``). Either way the same
``Commands.execute`` does the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hearthcam import control
from hearthcam.accounts import AccountError, Accounts, Role, UserInfo
from hearthcam.control import (
    AddUser,
    CommandRefused,
    MetricsSummary,
    PromoteModel,
    Request,
    Response,
    RollbackModel,
    ServerUnreachable,
    Serving,
    Trained,
    TrainModel,
    UserAdded,
)
from hearthcam.lock import DataDirBusy, DataDirLock, read_holder
from hearthcam.store.db import Store

if TYPE_CHECKING:
    from hearthcam.learn.evaluate import Metrics
    from hearthcam.learn.registry import ModelRegistry
    from hearthcam.learn.retrain import Trainer
    from hearthcam.runtime import Runtime

Step = Callable[[str], None]
SERVER_START_WAIT: Final = 60.0  # a server that holds the lock is maybe still recovering


class Commands:
    """Runs requests over one store: the server's, or one a lone CLI command opened."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        cameras: Callable[[], Sequence[str]],
        models_changed: Callable[[], object] = lambda: None,
        trainer: Trainer | None = None,
    ) -> None:
        self._store, self._data_dir = store, data_dir
        self._trainer = trainer  # None: ``train_once`` in this process
        self._cameras = cameras  # every camera a first owner gets
        self._models_changed = models_changed  # the server re-reads the served model at once

    def execute(self, request: Request, step: Step = lambda _: None) -> Response:
        """Runs one request; HearthcamError (CommandRefused, AccountError, ...) if refused."""
        if isinstance(request, AddUser):
            return self.add_user(request)
        if isinstance(request, PromoteModel):
            return self._changed(self.promote(request.model_id))
        if isinstance(request, RollbackModel):
            now = self._registry().rollback(time.time())
            return self._changed(Serving(now.id if now else None))
        return self._changed(self.train(request, step))

    def add_user(self, request: AddUser) -> UserAdded:
        """The first user must be an owner (it creates the household and gets every camera)."""
        try:
            wanted = Role(request.role)
        except ValueError:
            raise CommandRefused(
                f"--role {request.role!r}: expected owner, member, admin or annotator"
            ) from None
        accounts = Accounts(self._store)
        try:
            user = _add(accounts, wanted, request, list(self._cameras()), time.time())
        except AccountError as error:
            raise CommandRefused(str(error)) from None
        return UserAdded(user.username, user.role.value, user.household_id)

    def promote(self, prefix: str) -> Serving:
        """Serves the one model whose id starts with ``prefix`` (no comparison is made)."""
        registry = self._registry()
        found = [m for m in registry.models() if m.id.startswith(prefix)]
        if len(found) != 1:
            raise CommandRefused(f"{prefix!r} names {len(found)} models; give more of the id")
        model = found[0]
        if not registry.file_of(model.id).is_file():
            raise CommandRefused(f"model {model.id} has no file (tainted or deleted)")
        try:
            registry.promote(model.id, time.time())
        except ValueError as error:
            raise CommandRefused(str(error)) from None
        return Serving(model.id)

    def train(self, request: TrainModel, step: Step) -> Trained:
        """Trains, evaluates and registers a model; promotes it if it beats the served one."""
        from hearthcam.learn.retrain import local_trainer  # scikit-learn: only when training

        trainer = self._trainer or local_trainer(self._store, self._data_dir)
        outcome = trainer(
            time.time(), test_fraction=request.test_fraction, seed=request.seed, step=step
        )
        return Trained(
            outcome.candidate.id, outcome.promoted, outcome.why, outcome.baseline,
            _summary(outcome.candidate_metrics), _summary(outcome.baseline_metrics),
            outcome.train, outcome.test, outcome.split_note,
        )  # fmt: skip

    def _registry(self) -> ModelRegistry:
        from hearthcam.learn.registry import ModelRegistry

        return ModelRegistry(self._store, self._data_dir)

    def _changed(self, response: Response) -> Response:
        self._models_changed()
        return response


def _add(
    accounts: Accounts, role: Role, request: AddUser, cameras: list[str], now: float
) -> UserInfo:
    if accounts.setup_allowed():
        if role is not Role.OWNER:
            raise CommandRefused("the first user must be an owner (--role owner)")
        return accounts.setup(request.username, request.password, request.household, cameras, now)
    household = request.household
    household_id = int(household) if household.isdigit() else None
    if role is Role.MEMBER and household_id is None:
        raise CommandRefused("a member joins an existing household: --household ID")
    if role is Role.OWNER and household_id is None:
        # A new household and its owner in one step: a refused password writes neither.
        return accounts.create_owner(request.username, request.password, household, now)
    if role in (Role.ADMIN, Role.ANNOTATOR):
        household_id = None
    return accounts.create_user(request.username, request.password, role, household_id, now)


def _summary(metrics: Metrics) -> MetricsSummary:
    return MetricsSummary(
        metrics.threat_recall, metrics.threat_precision, metrics.alerts, metrics.false_alerts,
        metrics.false_alerts_per_camera_day, metrics.confusion,
    )  # fmt: skip


# --- where a command runs ------------------------------------------------------------------------


def send(
    data_dir: Path,
    database_url: str,
    request: Request,
    *,
    command: str,
    cameras: Callable[[], Sequence[str]] = list,
    step: Step = lambda _: None,
    wait: float = SERVER_START_WAIT,
) -> tuple[Response, bool]:
    """Runs ``request`` where it belongs; returns its answer and whether a server ran it.

    With no server the lock is taken as ``command`` for the request's duration; ``cameras`` are
    then what a first owner gets (the server uses its own list).

    Raises:
        DataDirBusy: a process that serves no control socket (``analyze``, another command)
            holds the data directory, or a server did not answer within ``wait`` seconds.
        HearthcamError: the request was refused (CommandRefused, TrainingError, ...).
    """
    root = data_dir.expanduser().absolute()
    deadline = time.monotonic() + wait
    while True:
        try:
            lock = DataDirLock.acquire(root, command)
        except DataDirBusy as busy:
            try:
                return control.call(root, request, step), True
            except ServerUnreachable:
                holder = busy.holder or read_holder(root)
                serving = holder is not None and holder.command == control.SERVER_COMMAND
                if not serving or time.monotonic() > deadline:
                    raise busy from None
                time.sleep(0.2)  # the server is starting: its socket comes after recovery
                continue
        with lock, Store.open(database_url, data_dir=root) as store:
            return Commands(store, root, cameras).execute(request, step), False


def serve_control(runtime: Runtime) -> control.ControlServer:
    """Starts the control socket of a running server over its own store, cameras and models."""
    models = runtime.models
    commands = Commands(
        runtime.store,
        runtime.config.data_dir,
        cameras=lambda: list(runtime.cameras),
        models_changed=models.check if models is not None else lambda: None,
        trainer=models.trainer if models is not None else None,  # on the cluster, with Ray
    )
    return control.ControlServer(runtime.config.data_dir, commands.execute).start()
