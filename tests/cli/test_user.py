"""`hearthcam user add`: the scripted way to create accounts (the web app has a setup page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.accounts import Accounts, Role
from hearthcam.cli import cli
from hearthcam.config import load_config
from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store

PASSWORD = "correct-horse-battery"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hearthcam.yml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "cameras:\n"
        "  front: {inputs: [{path: rtsp://127.0.0.1:9/a}]}\n"
        "  garden: {inputs: [{path: rtsp://127.0.0.1:9/b}]}\n"
    )
    return path


def add(config_file: Path, *args: str, password: str = PASSWORD) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["user", "add", *args, "--config", str(config_file), "--password-stdin"],
        input=password + "\n",
    )
    return result.exit_code, result.output


def accounts(config_file: Path) -> Accounts:
    return Accounts(Store.open(load_config(config_file).database_url))


def test_first_owner_creates_the_household_and_gets_every_camera(config_file: Path) -> None:
    code, output = add(config_file, "alice", "--household", "Maple Street")
    assert code == 0, output
    assert "added owner alice in household" in output
    acc = accounts(config_file)
    (alice,) = acc.list_users()
    assert alice.role is Role.OWNER
    assert alice.household_id is not None
    assert sorted(acc.household_cameras(alice.household_id)) == ["front", "garden"]


def test_the_first_user_must_be_an_owner(config_file: Path) -> None:
    code, output = add(config_file, "root", "--role", "admin")
    assert code == 2
    assert "first user must be an owner" in output
    assert accounts(config_file).users_count() == 0


def test_members_join_an_existing_household_and_admins_have_none(config_file: Path) -> None:
    assert add(config_file, "alice")[0] == 0
    household = accounts(config_file).list_users()[0].household_id
    code, output = add(config_file, "bob", "--role", "member", "--household", str(household))
    assert code == 0, output
    code, output = add(config_file, "carol", "--role", "admin")
    assert code == 0, output
    users = {u.username: u for u in accounts(config_file).list_users()}
    assert users["bob"].household_id == household
    assert users["carol"].household_id is None
    code, output = add(config_file, "dave", "--role", "member")
    assert code == 2
    assert "--household ID" in output


def test_bad_role_and_weak_password_are_refused_with_a_clear_message(config_file: Path) -> None:
    code, output = add(config_file, "alice", "--role", "king")
    assert code == 2
    assert "expected owner, member, admin or annotator" in output
    code, output = add(config_file, "alice", password="short")
    assert code == 2
    assert "at least 10 characters" in output
    assert accounts(config_file).users_count() == 0


def households(config_file: Path) -> list[str]:
    with (
        Store.open(load_config(config_file).database_url) as store,
        AccountStore(store).read() as tx,
    ):
        return [h.name for h in tx.households()]


def test_a_later_owner_with_a_refused_password_creates_no_household(config_file: Path) -> None:
    assert add(config_file, "alice", "--household", "Maple Street")[0] == 0
    code, output = add(
        config_file, "bob", "--role", "owner", "--household", "Oak Lane", password="short"
    )
    assert code == 2
    assert "at least 10 characters" in output
    assert households(config_file) == ["Maple Street"]  # no household without its owner
    code, output = add(config_file, "alice", "--role", "owner", "--household", "Elm Row")
    assert code == 2
    assert "taken" in output
    assert households(config_file) == ["Maple Street"]
    code, output = add(config_file, "bob", "--role", "owner", "--household", "Oak Lane")
    assert code == 0, output
    assert households(config_file) == ["Maple Street", "Oak Lane"]
