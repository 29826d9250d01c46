"""`hearthcam hub`: a hub's operator makes link codes (`code`) and serves a hub (`serve`); a home
links to it (`link`), checks the hub's view log of its clips (`check`) and unlinks (`unlink`).

Real parts: a hub on uvicorn on loopback (in-process, as `hub serve` runs it; once as `python -m
hearthcam hub serve` itself) over a SQLite file holding its registry and its view log, real
Ed25519 keys, the commands through Typer's CliRunner. A hub that cuts its log back is named by
the home's next check, and every check after."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hearthcam.cli import cli
from hearthcam.cli.hub import _is_loopback
from hearthcam.hub.client import HubClient
from hearthcam.hub.identity import encode_b64, load_or_create
from hearthcam.viewlog.signing import AuditKey
from tests.conftest import free_port, port_answers
from tests.hub.test_log_rounds import Hub, open_hub
from tests.support.hubs import served_hub
from tests.viewlog.test_tampering import truncate_to

OTHER_HOME = 99  # a household no home of these tests has: the hub logs its views too
CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


def hub_command(*args: str) -> Result:
    """``hearthcam hub ARGS`` in-process."""
    return CliRunner().invoke(cli, ["hub", *args])


def one_line(result: Result) -> str:
    """The one line of a refusal on stderr (no traceback, nothing else)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def resources() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def make_hub(folder: Path, resources: ExitStack) -> Hub:
    """A hub on a free loopback port with its keys where `hub serve --data` keeps them."""
    identity = load_or_create(folder / "hub-identity.pem")
    key = AuditKey.load_or_create(folder / "hub-audit-ed25519.pem")
    return open_hub(resources, database=folder / "hub.db", identity=identity, key=key)


@pytest.fixture
def hub(tmp_path: Path, resources: ExitStack) -> Hub:
    return make_hub(tmp_path / "hub", resources)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The home's data directory."""
    folder = tmp_path / "home-data"
    folder.mkdir()
    return folder


@pytest.fixture
def config(tmp_path: Path, data: Path) -> Path:
    path = tmp_path / "hearthcam.yml"
    path.write_text(f"data_dir: {data}\n")
    return path


def database(hub: Hub) -> str:
    return f"sqlite:///{hub.database}"


def new_code(hub: Hub) -> str:
    """A code made by `hearthcam hub code`, as the hub's operator makes one."""
    result = hub_command("code", "--database", database(hub), "--note", "Maple Street")
    assert result.exit_code == 0, result.output
    assert CODE.fullmatch(result.stdout.strip()), result.stdout
    return result.stdout.strip()


def link(hub: Hub, config: Path, code: str | None = None) -> Result:
    return hub_command(
        "link", hub.url, code or new_code(hub), "-c", str(config), "--name", "Maple Street"
    )


def linked_home(hub: Hub, config: Path, data: Path) -> int:
    result = link(hub, config)
    assert result.exit_code == 0, result.output
    home_id = json.loads((data / "hub.json").read_text())["home_id"]
    assert isinstance(home_id, int)
    return home_id


def check(config: Path) -> Result:
    return hub_command("check", "-c", str(config))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_code_link_check_cut_back_and_unlink(hub: Hub, config: Path, data: Path) -> None:
    made = hub_command("code", "--database", database(hub), "--ttl-minutes", "5")
    assert made.exit_code == 0, made.output
    code = made.stdout.strip()
    assert CODE.fullmatch(code), made.stdout  # stdout is the code alone, for scripts
    assert "expires" in made.stderr
    assert "(in 5 minutes)" in made.stderr

    result = link(hub, config, code)
    assert result.exit_code == 0, result.output
    assert f"the hub's fingerprint: {hub.identity.fingerprint()}" in result.stdout
    saved = json.loads((data / "hub.json").read_text())
    assert mode(data / "hub.json") == 0o600
    identity = load_or_create(data / "secrets" / "hub-identity.pem")
    home_id = hub.registry.home_id(identity.key_id)
    assert home_id is not None
    assert saved["url"] == hub.url
    assert saved["home_id"] == home_id
    assert saved["hub_key"] == hub.identity.public_b64
    assert saved["log_key"] == encode_b64(hub.key.public_raw())
    assert saved["linked_at"].endswith("+00:00")
    assert f"as home {home_id}" in result.stdout

    hub.append(home_id, OTHER_HOME, home_id, home_id, OTHER_HOME)
    first = check(config)
    assert first.exit_code == 0, first.output
    assert "the hub's view log checks out: 3 views of your clips" in first.stdout
    state_file = data / "hub-log-state.json"
    assert mode(state_file) == 0o600
    state = json.loads(state_file.read_text())
    assert state["checkpoint"]["size"] == 5
    assert sorted(state["seen"], key=int) == ["0", "2", "3"]

    hub.append(OTHER_HOME, home_id)  # the next check must prove growth from the kept one
    second = check(config)
    assert second.exit_code == 0, second.output
    assert "checks out: 4 views of your clips" in second.stdout
    kept = state_file.read_bytes()
    assert json.loads(kept)["checkpoint"]["size"] == 7

    truncate_to(hub.database, 3)  # the hub cuts its log back: views 3 and 6 are gone
    for _ in range(2):  # the kept checkpoint stays, so every check names it again
        caught = check(config)
        assert caught.exit_code == 1, caught.output
        assert "checks out" not in caught.output
        lines = caught.stderr.strip().splitlines()
        assert lines[0].strip() == "shrunk: the log has 3 entries, the checkpoint kept 7"
        assert lines[1].strip() == "dropped: entry 3, seen before, is no longer listed"
        assert lines[2].strip() == "dropped: entry 6, seen before, is no longer listed"
        assert "does NOT check out: 3 findings" in lines[3]
        assert len(lines) == 4
        assert state_file.read_bytes() == kept

    gone = hub_command("unlink", "-c", str(config))
    assert gone.exit_code == 0, gone.output
    assert not (data / "hub.json").exists()
    assert (data / "secrets" / "hub-identity.pem").is_file()
    assert hub.registry.home_id(identity.key_id) is None  # the hub refuses the key now
    after = check(config)
    assert after.exit_code == 2
    assert "not linked to a hub" in one_line(after)


def test_unlink_forget_forgets_a_link_the_hub_no_longer_knows(
    hub: Hub, config: Path, data: Path
) -> None:
    linked_home(hub, config, data)
    identity = load_or_create(data / "secrets" / "hub-identity.pem")
    assert hub.registry.unlink(identity.key_id, time.time())  # the operator removed the home
    kept = hub_command("unlink", "-c", str(config))
    assert kept.exit_code == 2
    assert "the hub does not know this home any more" in one_line(kept)
    assert "`hearthcam hub unlink --forget`" in one_line(kept)
    assert (data / "hub.json").is_file()
    forgot = hub_command("unlink", "-c", str(config), "--forget")
    assert forgot.exit_code == 0, forgot.output
    assert forgot.stdout.strip() == (
        f"forgot the link to the hub at {hub.url}: the hub did not know this home any more, so "
        "no clip was deleted there with a receipt; the home's server ends the shares made for it"
    )
    assert not (data / "hub.json").exists()


def test_a_relink_to_the_same_hub_is_held_to_what_was_kept(
    hub: Hub, config: Path, data: Path
) -> None:
    home_id = linked_home(hub, config, data)
    hub.append(home_id, home_id, OTHER_HOME)
    assert check(config).exit_code == 0
    assert hub_command("unlink", "-c", str(config)).exit_code == 0
    assert linked_home(hub, config, data) == home_id  # same key, same home
    truncate_to(hub.database, 1)
    caught = check(config)
    assert caught.exit_code == 1, caught.output
    assert "shrunk: the log has 1 entries, the checkpoint kept 3" in caught.stderr


def test_a_link_to_another_hub_starts_from_nothing(
    hub: Hub, config: Path, data: Path, tmp_path: Path, resources: ExitStack
) -> None:
    home_id = linked_home(hub, config, data)
    hub.append(home_id, OTHER_HOME, home_id, home_id)
    assert check(config).exit_code == 0
    assert hub_command("unlink", "-c", str(config)).exit_code == 0
    other = make_hub(tmp_path / "other-hub", resources)
    other_id = linked_home(other, config, data)
    other.append(other_id)  # a smaller log, signed by another key: not the first hub's cut back
    fresh = check(config)
    assert fresh.exit_code == 0, fresh.output
    assert "checks out: 1 view of your clips" in fresh.stdout


def test_linking_twice_is_refused(hub: Hub, config: Path, data: Path, tmp_path: Path) -> None:
    linked_home(hub, config, data)
    before = (data / "hub.json").read_bytes()
    code = new_code(hub)
    again = link(hub, config, code)
    assert again.exit_code == 2
    line = one_line(again)
    assert "linked already" in line
    assert "hearthcam hub unlink" in line
    assert (data / "hub.json").read_bytes() == before
    # Refused before the hub was asked: the code still links a home.
    with HubClient(hub.url, load_or_create(tmp_path / "another.pem")) as client:
        assert client.link(code, "Oak Lane").home_id > 0


def test_a_bad_code_is_refused_in_one_line(hub: Hub, config: Path, data: Path) -> None:
    refused = link(hub, config, "ABCDE-FGHJK")
    assert refused.exit_code == 2
    assert one_line(refused) == "error: hub link: the hub refused (403): unknown or used code"
    assert not (data / "hub.json").exists()
    used = new_code(hub)
    assert link(hub, config, used).exit_code == 0
    assert hub_command("unlink", "-c", str(config)).exit_code == 0
    twice = link(hub, config, used)
    assert twice.exit_code == 2
    assert "unknown or used code" in one_line(twice)


def test_an_unreachable_hub_is_one_line(hub: Hub, config: Path, data: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    refused = hub_command("link", dead, "ABCDE-FGHJK", "-c", str(config))
    assert refused.exit_code == 2
    line = one_line(refused)
    assert line.startswith(f"error: hub link: cannot reach the hub at {dead}")
    assert not (data / "hub.json").exists()
    # A linked home whose hub has gone: check and unlink say so, and keep the link.
    linked_home(hub, config, data)
    saved = json.loads((data / "hub.json").read_text())
    (data / "hub.json").write_text(json.dumps({**saved, "url": dead}))
    for command in ("check", "unlink"):
        result = hub_command(command, "-c", str(config))
        assert result.exit_code == 2
        assert f"error: hub {command}: cannot reach the hub at {dead}" in one_line(result)
    assert (data / "hub.json").is_file()


def test_a_damaged_state_file_is_named(hub: Hub, config: Path, data: Path) -> None:
    home_id = linked_home(hub, config, data)
    hub.append(home_id)
    assert check(config).exit_code == 0
    state_file = data / "hub-log-state.json"
    state = json.loads(state_file.read_text())
    state["seen"]["0"] = "not base64!"
    state_file.write_text(json.dumps(state))
    damaged = check(config)
    assert damaged.exit_code == 2
    line = one_line(damaged)
    assert f"the kept log state {state_file} is damaged" in line
    assert "seen entry 0" in line


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["link", "hub.example.org", "ABCDE-FGHJK"], "is not a hub address"),
        (["check"], "this home is not linked to a hub"),
        (["unlink"], "this home is not linked to a hub"),
    ],
)
def test_home_refusals(config: Path, args: list[str], named: str) -> None:
    result = hub_command(*args, "-c", str(config))
    assert result.exit_code == 2
    assert named in one_line(result)


def test_a_code_for_a_hub_database_not_there_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = hub_command("code", "--database", f"sqlite:///{missing}")
    assert result.exit_code == 2
    assert f"no hub database at {missing}" in one_line(result)
    assert not missing.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "hub.example.org"])
def test_serving_beyond_loopback_needs_public(tmp_path: Path, host: str) -> None:
    folder = tmp_path / "hub"
    result = hub_command(
        "serve", "--database", f"sqlite:///{tmp_path / 'hub.db'}", "--data", str(folder),
        "--host", host, "--port", "0",
    )  # fmt: skip
    assert result.exit_code == 2
    line = one_line(result)
    assert f"--host {host} is not a loopback address" in line
    assert "put TLS in front" in line
    assert "--public" in line
    assert not folder.exists()  # refused before anything was made
    assert not (tmp_path / "hub.db").exists()


def test_serving_on_a_taken_port_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "hub"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hub_command(
            "serve", "--database", f"sqlite:///{tmp_path / 'hub.db'}", "--data", str(folder),
            "--port", str(port),
        )  # fmt: skip
    assert result.exit_code == 2
    assert f"hub serve: cannot listen on 127.0.0.1:{port}" in one_line(result)
    assert not folder.exists()
    assert not (tmp_path / "hub.db").exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("10.0.0.1", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


@pytest.mark.integration  # a subprocess
def test_hub_serve_links_a_home_and_stops_on_sigint(
    tmp_path: Path, config: Path, data: Path
) -> None:
    with served_hub(tmp_path) as served:
        process, port, url, folder = served.process, served.port, served.database, served.folder
        said = served.said()
        assert f"hub at http://127.0.0.1:{port}" in said
        fingerprint = load_or_create(folder / "hub-identity.pem").fingerprint()
        assert f"the hub's fingerprint: {fingerprint}" in said
        assert (folder / "hub-audit-ed25519.pem").is_file()

        made = hub_command("code", "--database", url)
        assert made.exit_code == 0, made.output
        linked = hub_command(
            "link", f"http://127.0.0.1:{port}", made.stdout.strip(), "-c", str(config)
        )
        assert linked.exit_code == 0, linked.output
        assert f"the hub's fingerprint: {fingerprint}" in linked.stdout
        assert (
            "its terms for the clips you share there: run by Northwind Review Co-op, annotators "
            "in Portugal, each clip kept at most 14 days" in " ".join(linked.stdout.split())
        )
        kept = json.loads((data / "hub.json").read_text())
        assert kept["terms"] == {
            "operator": "Northwind Review Co-op", "annotators_in": "Portugal", "keep_days": 14,
        }  # fmt: skip
        assert check(config).exit_code == 0  # the served hub keeps a view log

        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, served.said()
    said = served.said()
    assert "stopped cleanly" in said
    assert "Traceback" not in said
    assert not port_answers(port)
    with closing(sqlite3.connect(tmp_path / "hub.db")) as db:
        assert db.execute("SELECT count(*) FROM hub_homes").fetchone() == (1,)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--operator", "Northwind"], "give both --operator and --annotators-in (or neither)"),
        (["--annotators-in", "Portugal"], "give both --operator and --annotators-in"),
        (["--operator", " ", "--annotators-in", "Portugal"], "--operator: must be some text"),
        (["--trusted-proxy", "proxy.lan"], "--trusted-proxy 'proxy.lan' is not an address"),
    ],
)
def test_serve_refuses_half_stated_terms(tmp_path: Path, args: list[str], named: str) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    result = hub_command("serve", "--database", url, "--data", str(tmp_path / "hub"), *args)
    assert result.exit_code == 2
    assert named in one_line(result)
    assert not (tmp_path / "hub").exists()  # refused before anything was made


def test_a_hub_that_states_no_terms_is_linked_but_says_so(
    hub: Hub, config: Path, data: Path
) -> None:
    linked = link(hub, config)
    assert linked.exit_code == 0, linked.output
    assert "states no terms for shared clips: clips cannot be shared with it" in linked.stdout
    assert json.loads((data / "hub.json").read_text())["terms"] is None


def test_publish_model_signs_a_verdict_model_and_refuses_anything_else(
    tmp_path: Path, hub: Hub
) -> None:
    from hearthcam.hub.models import HubModels
    from hearthcam.learn.train import fit
    from hearthcam.pipeline.features import feature_matrix
    from tests.learn.test_train import world

    events, truth = world(40, seed=2)
    model = tmp_path / "verdict.onnx"
    model.write_bytes(fit(feature_matrix(events), truth).payload)
    folder = tmp_path / "hub"  # where make_hub keeps the hub's identity
    made = hub_command(
        "publish-model", str(model), "--database", database(hub), "--data", str(folder)
    )
    assert made.exit_code == 0, made.output
    assert "signed and offered" in made.stderr
    models = HubModels.from_url(database(hub), load_or_create(folder / "hub-identity.pem"))
    try:
        latest = models.latest()
        assert latest is not None
        assert latest.model_id == made.stdout.strip()
        assert latest.payload == model.read_bytes()
    finally:
        models.close()

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    refused = hub_command(
        "publish-model", str(junk), "--database", database(hub), "--data", str(folder)
    )
    assert refused.exit_code == 2
    assert "not a hearthcam verdict model" in one_line(refused)


def test_annotator_add_list_and_remove(tmp_path: Path) -> None:
    from hearthcam.accounts import Accounts
    from hearthcam.store.db import Store

    database = f"sqlite:///{tmp_path / 'hub.db'}"
    Store.open(database).close()  # as `hub serve` leaves it
    added = hub_command(
        "annotator", "add", "ada", "--database", database, "--url", "https://hub.example.org/"
    )
    assert added.exit_code == 0, added.output
    link = added.stdout.strip()
    assert re.fullmatch(r"https://hub\.example\.org/enrol#[A-Za-z0-9_-]{43}", link), link
    assert "annotator ada added" in one_line(added)
    admin = hub_command("annotator", "add", "root", "--admin", "--database", database)
    assert admin.exit_code == 0, admin.output
    assert admin.stdout.startswith("http://127.0.0.1:8470/enrol#")
    # The link works once, for that person, at the hub's accounts.
    with Store.open(database) as store:
        token = link.split("#", 1)[1]
        assert Accounts(store).enrolment.pending(token, time.time()).username == "ada"
    taken = hub_command("annotator", "add", "ADA", "--database", database)
    assert taken.exit_code == 2
    assert "username" in one_line(taken)

    listed = hub_command("annotator", "list", "--database", database)
    assert listed.exit_code == 0, listed.output
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["ada", "annotator", "not", "enrolled", "yet"], ["root", "admin", "not", "enrolled", "yet"],
    ]  # fmt: skip
    removed = hub_command("annotator", "remove", "ada", "--database", database)
    assert removed.exit_code == 0, removed.output
    listed = hub_command("annotator", "list", "--database", database)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["root"]
    gone = hub_command("annotator", "remove", "ada", "--database", database)
    assert gone.exit_code == 2
    assert one_line(gone).endswith("hub annotator remove: no account named 'ada'")
    missing = tmp_path / "typo.db"
    for command in (["add", "bo"], ["list"], ["remove", "bo"]):
        refused = hub_command("annotator", *command, "--database", f"sqlite:///{missing}")
        assert refused.exit_code == 2
        assert f"no hub database at {missing}" in one_line(refused)
    assert not missing.exists()


def _second_home(tmp_path: Path) -> tuple[Path, Path]:
    """Another home's config and data directory."""
    data = tmp_path / "other-data"
    data.mkdir()
    config = tmp_path / "other.yml"
    config.write_text(f"data_dir: {data}\n")
    return config, data


def test_two_homes_compare_checkpoints_and_catch_a_hub_showing_them_different_logs(
    hub: Hub, config: Path, data: Path, tmp_path: Path, resources: ExitStack
) -> None:
    other_config, other_data = _second_home(tmp_path)
    first = linked_home(hub, config, data)
    second = linked_home(hub, other_config, other_data)
    refused = hub_command("checkpoint", "-c", str(config))
    assert refused.exit_code == 2
    assert "run `hearthcam hub check` first" in one_line(refused)
    hub.append(first, second, first)
    assert check(config).exit_code == 0
    hub.append(second, second)
    assert check(other_config).exit_code == 0
    # The first home's checkpoint (3 entries) handed to the second (5): one log.
    given = hub_command("checkpoint", "-c", str(config))
    assert given.exit_code == 0, given.output
    saved = tmp_path / "maple.json"
    saved.write_text(given.stdout)
    compared = hub_command("compare", str(saved), "-c", str(other_config))
    assert compared.exit_code == 0, compared.output
    assert "one log: 5 entries here, 3 there" in " ".join(compared.stdout.split())
    # And the other way round, at equal sizes too.
    theirs = tmp_path / "oak.json"
    theirs.write_text(hub_command("checkpoint", "-c", str(other_config)).stdout)
    assert hub_command("compare", str(theirs), "-c", str(config)).exit_code == 0
    assert check(config).exit_code == 0  # now at 5 as well
    assert hub_command("compare", str(theirs), "-c", str(config)).exit_code == 0

    # The same hub (identity, registry, log key) shows the second home another log: each
    # home's own view holds, and comparing their checkpoints catches it.
    forked = open_hub(
        resources, database=tmp_path / "forked.db", identity=hub.identity, key=hub.key,
        registry_database=hub.database,
    )  # fmt: skip
    forked.append(first, second, first, second)
    forked.append(second, viewer=9)
    forked.append(second, second)
    link_file = other_data / "hub.json"
    moved = json.loads(link_file.read_text()) | {"url": forked.url}
    link_file.write_text(json.dumps(moved))  # the second home reaches the forked one
    (other_data / "hub-log-state.json").unlink()  # (a home that starts watching now)
    assert check(other_config).exit_code == 0
    forked_view = tmp_path / "forked.json"
    forked_view.write_text(hub_command("checkpoint", "-c", str(other_config)).stdout)
    # The first home asks its hub, whose log is smaller than what the hub signed for the
    # other home: named as cut back.
    caught = hub_command("compare", str(forked_view), "-c", str(config))
    assert caught.exit_code == 1
    said = " ".join(caught.stderr.split())
    assert "shrunk: the hub signed 7 entries" in said
    assert "the hub showed the two homes different view logs" in said
    # Its log grows to 7 as well: the proof from 5 to 7 of its log does not reach the root
    # the other home was shown: forked.
    hub.append(first, first)
    caught = hub_command("compare", str(forked_view), "-c", str(config))
    assert caught.exit_code == 1
    assert "forked" in caught.stderr
    # And from the other side, against the forked hub's own proof.
    mine = tmp_path / "maple-5.json"
    mine.write_text(hub_command("checkpoint", "-c", str(config)).stdout)
    other_side = hub_command("compare", str(mine), "-c", str(other_config))
    assert other_side.exit_code == 1
    assert "forked" in other_side.stderr


def test_compare_refuses_what_is_not_a_checkpoint_of_this_hub(
    hub: Hub, config: Path, data: Path, tmp_path: Path
) -> None:
    home_id = linked_home(hub, config, data)
    hub.append(home_id)
    assert check(config).exit_code == 0
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    result = hub_command("compare", str(junk), "-c", str(config))
    assert result.exit_code == 2
    assert f"{junk} is not a hub checkpoint" in one_line(result)
    mine = json.loads(hub_command("checkpoint", "-c", str(config)).stdout)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(mine | {"hub_log_key": encode_b64(b"k" * 32)}))
    result = hub_command("compare", str(elsewhere), "-c", str(config))
    assert result.exit_code == 2
    assert "a checkpoint of another hub's view log" in one_line(result)
    mine["checkpoint"]["root"] = encode_b64(b"r" * 32)  # not what the hub signed
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(mine))
    result = hub_command("compare", str(altered), "-c", str(config))
    assert result.exit_code == 1
    assert "bad signature" in result.stderr
    missing = hub_command("compare", str(tmp_path / "nowhere.json"), "-c", str(config))
    assert missing.exit_code == 2
    assert "cannot read" in one_line(missing)
