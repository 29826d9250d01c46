"""`hearthcam audit verify`: 0 on an intact view log; non-zero, naming the problem, after an entry
was changed, removed or reordered or a checkpoint forged straight in the SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.store.db import Store
from hearthcam.viewlog.signing import AuditKey, key_path
from tests.viewlog.test_log import (
    change_entry,
    delete_entry,
    filled_log,
    forge_signature,
    swap_entries,
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hearthcam.yml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\n")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return filled_log(tmp_path / "data", 30, (12, 30))


def audit(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args, "--config", str(config_file)])
    return result.exit_code, result.output


def test_an_intact_log_verifies(config_file: Path, db: Path) -> None:
    code, output = audit(config_file, "verify")
    assert code == 0, output
    assert "view log intact: 30 entries, 2 checkpoints" in output


def test_an_empty_log_verifies(config_file: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    Store.open(f"sqlite:///{tmp_path / 'data' / 'hearthcam.db'}").close()
    code, output = audit(config_file, "verify")
    assert code == 0, output
    assert "0 entries" in output


def test_a_data_directory_without_data_is_refused_and_left_untouched(
    config_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    for command in ("verify", "show"):
        code, output = audit(config_file, command)
        assert code == 2
        assert "no hearthcam data in" in output
    assert list((tmp_path / "data").iterdir()) == []  # a reader wrote nothing (a server may run)


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda db: change_entry(db, 5), "changed: entry 5 was changed"),
        (lambda db: delete_entry(db, 17), "missing: entries 17 are missing (removed)"),
        (lambda db: swap_entries(db, 2, 20), "reordered: entry 2 was written as entry 20"),
        (forge_signature, "bad signature: checkpoint at size 12: bad signature"),
    ],
    ids=["changed", "removed", "reordered", "forged"],
)
def test_tampering_fails_and_names_the_problem(
    config_file: Path, db: Path, tamper: Callable[[Path], None], named: str
) -> None:
    tamper(db)
    code, output = audit(config_file, "verify")
    assert code == 1, output
    assert named in output
    assert "view log NOT intact" in output


def test_reordering_names_both_entries_and_the_checkpoints(config_file: Path, db: Path) -> None:
    swap_entries(db, 2, 20)
    code, output = audit(config_file, "verify")
    assert code == 1
    assert "entry 20 was written as entry 2" in output
    assert "checkpoint at size 30 does not match" in output
    assert "checkpoint at size 12 does not match" in output


def test_checkpoints_are_checked_with_a_given_public_key(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own.pem"
    own.write_bytes(AuditKey.load(key_path(tmp_path / "data")).public_pem())
    assert audit(config_file, "verify", "--public-key", str(own))[0] == 0
    other = tmp_path / "other.pem"
    other.write_bytes(AuditKey(Ed25519PrivateKey.generate()).public_pem())
    code, output = audit(config_file, "verify", "--public-key", str(other))
    assert code == 1
    assert "checkpoint at size 12: bad signature" in output


def test_show_lists_entries_and_the_checkpoint(config_file: Path, db: Path) -> None:
    code, output = audit(config_file, "show", "--household", "2", "--last", "3")
    assert code == 0, output
    assert "view log: 10 entries" in output
    assert "share-" in output
    assert "checkpoint: size 30" in output


def test_key_prints_the_public_key(config_file: Path, db: Path, tmp_path: Path) -> None:
    code, output = audit(config_file, "key")
    assert code == 0, output
    assert output == AuditKey.load(key_path(tmp_path / "data")).public_pem().decode()
    assert "PRIVATE" not in output
