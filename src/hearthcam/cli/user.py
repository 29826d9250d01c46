"""``hearthcam user add``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam.config import Config
from hearthcam.errors import HearthcamError

if TYPE_CHECKING:
    pass

from hearthcam.cli.common import ConfigOption, cli, fail, load, out

user_cli = typer.Typer(
    no_args_is_help=True, help="User accounts (for scripts; the web app has a setup page)."
)
cli.add_typer(user_cli, name="user")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != password:
        raise fail("the passwords differ")
    return str(password)


@user_cli.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="login name")],
    config: ConfigOption = None,
    role: Annotated[str, typer.Option(help="owner, member, admin or annotator")] = "owner",
    household: Annotated[
        str, typer.Option(help="household name (first owner) or id (members, later owners)")
    ] = "Home",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user; the first must be an owner (it creates the household, gets every camera).

    While ``hearthcam run`` serves this data directory the server adds the user."""
    from hearthcam.accounts import Role
    from hearthcam.commands import send
    from hearthcam.control import AddUser, UserAdded

    cfg = load(config)
    if role not in {r.value for r in Role}:
        raise fail(f"--role {role!r}: expected owner, member, admin or annotator")
    password = _read_password(password_stdin)
    request = AddUser(username, password, role, household)
    try:
        user, by_server = send(
            cfg.data_dir, cfg.database_url, request, command="hearthcam user add",
            cameras=lambda: _cameras(cfg),
        )  # fmt: skip
    except HearthcamError as error:
        raise fail(str(error)) from None
    assert isinstance(user, UserAdded)
    where = f" in household {user.household_id}" if user.household_id is not None else ""
    how = " (by the running server)" if by_server else ""
    out.print(f"added {user.role} {user.username}{where}{how}", highlight=False)


def _cameras(cfg: Config) -> list[str]:
    """What a first owner gets with no server running: the config's cameras and the app's."""
    from hearthcam.camera_registry import CameraRegistry
    from hearthcam.store.db import Store
    from hearthcam.store.settings import SettingsStore

    with Store.open(cfg.database_url) as store:
        return list(CameraRegistry.load(cfg, SettingsStore(store)))
