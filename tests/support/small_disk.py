"""A real small file system for disk-full tests: a tmpfs mounted for one test (we run as root
in CI and on the dev boxes), filled on demand with a ballast file that is not media."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.required import require


@contextmanager
def small_disk(path: Path, size_kb: int) -> Iterator[Path]:
    """Mounts a ``size_kb`` tmpfs at ``path`` (created) for the ``with`` block."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    require(mounted.returncode == 0, f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        # Lazily when something still holds a file there: a mount must never outlive the test.
        if subprocess.run(["umount", str(path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(path)], check=True)


def free_bytes(path: Path) -> int:
    """Bytes free on the file system holding ``path``."""
    return shutil.disk_usage(path).free


def leave_free(disk: Path, room: int, name: str = "ballast") -> Path:
    """Fills ``disk`` with a ballast file (not media: retention never sees it) until about
    ``room`` bytes are free; returns the ballast."""
    ballast = disk / name
    size = max(0, free_bytes(disk) - room)
    with open(ballast, "wb") as out:
        block = b"\0" * (64 * 1024)
        while size > 0:
            size -= out.write(block[: min(len(block), size)])
        out.flush()
        os.fsync(out.fileno())
    return ballast
