"""`hearthcam audit verify`: 0 on an intact view log; non-zero, naming the problem, after an entry
was changed, removed or reordered, a side column edited, an entry stored as text or a checkpoint
forged straight in the SQLite file; with `--against`, after the log was cut back to an earlier
checkpoint or wiped. `hearthcam audit checkpoint` prints the checkpoint to keep."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path, parse_saved
from tests.viewlog.test_log import (
    change_entry,
    delete_entry,
    filled_log,
    forge_signature,
    swap_entries,
    view,
)
from tests.viewlog.test_tampering import entry_as_text, set_column, truncate_to, wipe


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


# -- issue 13: what the database alone cannot show ------------------------------------------------


def test_a_side_column_edit_is_named(config_file: Path, db: Path) -> None:
    set_column(db, 4, "household_id", 3)
    code, output = audit(config_file, "verify")
    assert code == 1, output
    assert "side column: entry 4: its household_id column says 3, its hashed bytes 2" in output


def test_an_entry_stored_as_text_is_named_without_a_traceback(config_file: Path, db: Path) -> None:
    entry_as_text(db, 3)
    result = CliRunner().invoke(cli, ["audit", "verify", "--config", str(config_file)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not a TypeError escaping
    assert "unreadable: entry 3 is stored as text, not bytes" in result.output
    assert "Traceback" not in result.output


def keep_checkpoint(config_file: Path, tmp_path: Path) -> Path:
    """What an owner does: `audit checkpoint` into a file kept off the box."""
    code, output = audit(config_file, "checkpoint")
    assert code == 0, output
    kept = tmp_path / "kept.json"
    kept.write_text(output)
    return kept


def test_checkpoint_prints_a_signed_checkpoint_to_keep(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    saved = json.loads(keep_checkpoint(config_file, tmp_path).read_text())
    key = AuditKey.load(key_path(tmp_path / "data"))
    assert saved["origin"] == "hearthcam view log"
    assert saved["size"] == 30
    assert saved["public_key"] == base64.b64encode(key.public_raw()).decode()
    ((checkpoint, raw),) = parse_saved(json.dumps(saved))
    assert checkpoint.signed_by(key.public_key)
    assert raw == key.public_raw()


def test_truncation_to_an_earlier_checkpoint_is_named_against_a_kept_one(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    kept = keep_checkpoint(config_file, tmp_path)
    truncate_to(db, 12)  # back to the checkpoint at 12: 18 views erased, head rewritten
    assert audit(config_file, "verify")[0] == 0  # the database alone agrees with itself
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 1, output
    assert "the saved checkpoint has 30 entries, the log only 12: 18 removed" in output
    assert "view log NOT intact" in output


def test_a_wiped_log_is_named_against_a_kept_checkpoint(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    kept = keep_checkpoint(config_file, tmp_path)
    wipe(db)
    assert "0 entries" in audit(config_file, "verify")[1]
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 1, output
    assert "the log only 0: 30 removed" in output


def test_a_kept_checkpoint_checks_out_when_the_log_only_grew(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    kept = keep_checkpoint(config_file, tmp_path)
    with Store.open(f"sqlite:///{db}") as store:
        AuditLog(store, AuditKey.load(key_path(tmp_path / "data"))).append(view(30))
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 0, output
    assert "31 entries, 2 checkpoints, 1 saved checkpoints" in output


def test_a_kept_checkpoint_checks_out_without_the_key_file(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    kept = keep_checkpoint(config_file, tmp_path)
    key_path(tmp_path / "data").unlink()  # gone with the log: the kept file names the key
    truncate_to(db, 12)
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 1, output
    assert "18 removed" in output


def test_a_checkpoint_is_not_signed_over_a_tampered_log(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    change_entry(db, 5)
    code, output = audit(config_file, "checkpoint")
    assert code != 0
    assert "NOT intact; no checkpoint signed" in output
    assert "changed: entry 5 was changed" in output


def test_an_unreadable_checkpoint_file_is_refused(
    config_file: Path, db: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"size": "eight"}')
    code, output = audit(config_file, "verify", "--against", str(bad))
    assert code == 2
    assert "cannot read the checkpoint file" in output


def open_handles(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path``."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += Path(fd.readlink()) == path
        except OSError:
            continue  # closed meanwhile
    return count


@pytest.mark.parametrize("command", ["verify", "show"])
def test_the_commands_close_the_database(config_file: Path, db: Path, command: str) -> None:
    # In-process (as a server's control socket or a test runs them) an open store would hold
    # its file, and on PostgreSQL its connections, for as long as the process lives.
    before = open_handles(db)
    code, output = audit(config_file, command)
    assert code == 0, output
    assert open_handles(db) == before
