"""Joining a Ray cluster, shared by the home's cluster engine (``hearthcam.cluster``) and the
review hub's workers (``hearthcam.hub.remote``): one namespace, one reachability check that
fails at once with a clear line (Ray itself would retry for minutes, logging as it goes), and
hearthcam's log lines on a worker's stderr (Ray keeps it in the node's log folder).

Ray is imported inside the functions: nothing else imports it unless a cluster is used.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Final

from hearthcam.errors import ClusterError, HearthcamError

#: Ray's namespace for hearthcam's jobs.
NAMESPACE: Final = "hearthcam"
#: How long joining the cluster waits for its head to answer at all, seconds.
CONNECT_TIMEOUT: Final = 5.0


def join(address: str, fix: str) -> None:
    """Joins the cluster whose head is at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``),
    once per process. ClusterError at once when nothing answers there; ``fix`` names the
    setting or option that gave the address, for that message."""
    import ray

    if ray.is_initialized():
        return
    reachable(address, fix)
    ray.init(
        address=address, namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=False
    )


def reachable(address: str, fix: str) -> None:
    """ClusterError unless a TCP connection to the head's HOST:PORT opens."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except (OSError, ValueError) as error:
        raise ClusterError(
            f"cannot reach the Ray cluster's head at {address} ({error}): start it there with "
            f"`ray start --head`, or fix {fix}"
        ) from None


def log_to_stderr() -> None:
    """hearthcam's log lines at INFO on the worker's stderr (Ray keeps it in the node's log
    folder), once per process."""
    root = logging.getLogger("hearthcam")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def where() -> str:
    """``NODE_ID/PID``: the node and worker process a task runs in."""
    import os

    import ray

    return f"{ray.get_runtime_context().get_node_id()}/{os.getpid()}"


def result(ref: Any, wait: float, what: str, failed: type[HearthcamError]) -> Any:
    """The value of the Ray task ``ref`` within ``wait`` seconds. A HearthcamError the task
    raised (a refusal: too few annotations, say) is raised as it is; a task that failed
    otherwise, was lost with its node, or did not finish in time (it is cancelled) is
    ``failed``, its message naming ``what``."""
    import ray
    from ray.exceptions import GetTimeoutError, RayError, RayTaskError

    try:
        return ray.get(ref, timeout=wait)
    except GetTimeoutError:
        ray.cancel(ref, force=True)
        raise failed(
            f"the {what} did not finish on the cluster within {wait:.0f} s (no node with a CPU "
            "free for it, or a node too slow); cancelled"
        ) from None
    except RayTaskError as error:
        cause = error.cause
        if isinstance(cause, HearthcamError):
            raise cause from None
        raise failed(f"the {what} failed on the cluster: {cause!r}") from error
    except RayError as error:
        raise failed(f"the {what} was lost on the cluster: {error}") from error
