"""``hearthcam user add``."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition

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
    """Add a user; the first must be an owner (it creates the household, gets every camera)."""
    from hearthcam.accounts import AccountError, Accounts, Role

    cfg = load(config)
    try:
        wanted = Role(role)
    except ValueError:
        raise fail(f"--role {role!r}: expected owner, member, admin or annotator") from None
    password = _read_password(password_stdin)
    accounts = Accounts(composition.open_store(cfg))
    now = time.time()
    try:
        if accounts.setup_allowed():
            if wanted is not Role.OWNER:
                raise fail("the first user must be an owner (--role owner)")
            user = accounts.setup(username, password, household, list(cfg.cameras), now)
        else:
            household_id = int(household) if household.isdigit() else None
            if wanted is Role.MEMBER and household_id is None:
                raise fail("a member joins an existing household: --household ID")
            if wanted is Role.OWNER and household_id is None:
                household_id = accounts.create_household(household, now)
            if wanted in (Role.ADMIN, Role.ANNOTATOR):
                household_id = None
            user = accounts.create_user(username, password, wanted, household_id, now)
    except AccountError as error:
        raise fail(str(error)) from None
    where = f" in household {user.household_id}" if user.household_id is not None else ""
    out.print(f"added {user.role.value} {user.username}{where}", highlight=False)
