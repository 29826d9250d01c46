"""A throwaway PostgreSQL server for tests and benchmarks: Debian's ``postgresql`` binaries, a
cluster in a temp folder, listening only on a Unix socket there (no TCP port), stopped and
removed afterwards.

PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` user
that Debian's package creates, and its commands run through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

_SEARCH = [Path("/usr/lib/postgresql")]


def _bin(name: str) -> str:
    """A server program: on PATH, or in Debian's versioned folder (not on PATH there)."""
    found = shutil.which(name)
    if found:
        return found
    for root in _SEARCH:
        for candidate in sorted(root.glob(f"*/bin/{name}"), reverse=True):
            return str(candidate)
    raise FileNotFoundError(f"{name}: install Debian's postgresql package (scripts/setup.sh)")


def server_installed() -> bool:
    """Whether the server programs (initdb, pg_ctl) are here."""
    try:
        _bin("initdb")
        _bin("pg_ctl")
    except FileNotFoundError:
        return False
    return True


def _run(*command: str) -> None:
    """Runs a server program as the cluster's owner; its output in the error if it fails."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Runs a server with its cluster and socket in a new folder under /tmp (pytest's own temp
    folders are root's alone, and the ``postgres`` user must reach this one); yields a libpq
    ``host=`` value."""
    folder = Path(tempfile.mkdtemp(prefix="hearthcam-pg-"))
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        data = folder / "cluster"
        _run(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "hearthcam", "-N")
        # Unix socket in the folder only, no fsync: a test server, gone afterwards.
        options = f"-k {folder} -c listen_addresses='' -F"
        _run(
            _bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"
        )
        try:
            yield str(folder)
        finally:
            _run(_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_database(host: str, template: str | None = None) -> str:
    """Creates a database on the server, empty or a copy of ``template`` (a database name);
    returns its SQLAlchemy URL (psycopg 3)."""
    name = f"t_{secrets.token_hex(6)}"
    # Names we made (hex digits) or a test's own: no quoting beyond the identifier's.
    copy = "" if template is None else f' TEMPLATE "{template}"'
    with psycopg.connect(host=host, user="hearthcam", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"{copy}')
    return database_url(host, name)


def database_url(host: str, name: str) -> str:
    """The SQLAlchemy URL (psycopg 3) of database ``name`` on the server at ``host``."""
    return f"postgresql+psycopg://hearthcam@/{name}?host={host}"


def database_name(url: str) -> str:
    """The database a URL of ``database_url`` names."""
    return url.split("@/", 1)[1].split("?", 1)[0]
