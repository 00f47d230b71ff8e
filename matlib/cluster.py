"""Work past one machine: a Dask distributed cluster behind the ``executor=`` every slow step takes.

The evaluation suite, SCIGEN's screening and the reference fingerprints fan out per-crystal work
through :func:`matlib.parallel.parallel_map`, which accepts any ``concurrent.futures``-style
executor. :func:`dask_executor` gives one backed by Dask distributed::

    with dask_executor() as executor:                       # a LocalCluster on this machine
        report = evaluate(generated, reference, executor=executor)
    with dask_executor("tcp://scheduler:8786") as executor:  # a running cluster, e.g. on a batch system
        table = screening_table(crystals, executor=executor)

Workers are processes (the work is Python holding the GIL), one thread each. They must be able to
import ``matlib``: on a cluster, install the package on every worker's machine.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .parallel import usable_cpus


@contextlib.contextmanager
def dask_executor(address: str | None = None, *, n_workers: int | None = None,
                  memory_limit: str | None = "auto") -> Iterator[Any]:
    """A ``concurrent.futures`` executor on a Dask cluster: ``address`` of a running scheduler, or a
    ``LocalCluster`` of ``n_workers`` single-threaded processes (default: every usable CPU) that is
    shut down on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("dask_executor needs Dask distributed: pip install -c constraints.txt distributed") from None
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=n_workers or usable_cpus(), threads_per_worker=1, processes=True,
                               dashboard_address=None, memory_limit=memory_limit)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def executor_workers(executor: Any) -> int | None:
    """How many tasks an executor runs at once: a pool's size, a Dask cluster's threads, else None."""
    size = getattr(executor, "_max_workers", None)
    if size:
        return int(size)
    client = getattr(executor, "_client", None)        # distributed's ClientExecutor
    if client is not None:
        return sum(worker["nthreads"] for worker in client.scheduler_info()["workers"].values()) or None
    return None


__all__ = ["dask_executor", "executor_workers"]
