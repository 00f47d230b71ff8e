"""One way to fan per-structure work out to any `concurrent.futures.Executor`.

Every slow metric (fingerprints, matching, CHGNet) is a pure function of one item, so it is
mapped with :func:`parallel_map`. ``executor=None`` runs serially in this process; otherwise any
object with ``submit()`` works: ``ThreadPoolExecutor``, ``ProcessPoolExecutor``, a Dask
``client.get_executor()``, ... Results always come back in input order.

For a ``ProcessPoolExecutor`` (or Dask/Ray) the mapped function and the items must pickle, which
is why the workers in this package are module-level functions (or ``functools.partial`` of them).
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .progress import progress


def _cgroup_cpu_quota(path: str = "/sys/fs/cgroup/cpu.max") -> int | None:
    # containers (Binder, CI) often see every host CPU but may use only their quota ("max" = none)
    try:
        quota, period = Path(path).read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """CPUs this process may use: its affinity set (``taskset``, a job scheduler) capped by a
    container's CPU quota, rather than the host's count."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:   # macOS and Windows have no affinity call
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return min(cpus, quota) if quota else cpus


# imported once by the fork server, so that workers start with them: on the GPU host 16 workers
# importing pymatgen and matminer side by side held up each pool for ~10 s; now the first pool pays
# for one import (~7 s) and later ones start at once ("__main__": a script's own functions)
WORKER_PRELOAD = ("__main__", "matlib.datasets", "matlib.evaluation.fingerprints", "matlib.evaluation.matching",
                  "matminer.featurizers.site.fingerprint", "matminer.featurizers.composition.composite")


def process_pool(max_workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A process pool whose workers start clean (``forkserver``), not as forks of this process.

    A forked child inherits a parent's OpenMP/CUDA state mid-flight: after the parent ran torch
    on several threads, CHGNet in a forked worker can hang forever on its first parallel op. The
    fork server has only imported :data:`WORKER_PRELOAD` (a missing one is skipped), never run them.
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))   # takes effect when the server first starts
    return cf.ProcessPoolExecutor(max_workers=max_workers or usable_cpus(), mp_context=context,
                                  initializer=one_thread_each)


def one_thread_each() -> None:
    """A pool worker's BLAS, OpenMP and torch get one thread: the workers already share out the
    CPUs, and 16 workers each waking 16 BLAS threads would ask for 256."""
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:   # scikit-learn's dependency; without it only libraries loaded later read the environment
        pass
    if "torch" in sys.modules:   # the fork server preloads matlib, which imports torch
        sys.modules["torch"].set_num_threads(1)


def _apply_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    # module level, so a process pool can pickle it
    return [fn(item) for item in chunk]


def _workers(executor: Any) -> int:
    # pools and Dask clusters know their size; other executors get a guess
    from .cluster import executor_workers

    return executor_workers(executor) or usable_cpus()


def default_chunksize(n: int, executor: Any) -> int:
    """About 4 chunks per worker (load balance) but at most 64 items each (progress updates)."""
    return max(1, min(64, math.ceil(n / (4 * _workers(executor)))))


def parallel_map(fn: Callable[[Any], Any], items: Iterable[Any], *, executor: cf.Executor | None = None,
                 chunksize: int | None = None, desc: str | None = None, progress_bar: bool = True) -> list[Any]:
    """``[fn(x) for x in items]``, optionally on ``executor``, with a progress bar; input order kept.

    Items are sent in chunks so that cheap functions do not drown in scheduling overhead.
    """
    items = list(items)
    n = len(items)
    if executor is None or n == 0:
        return [fn(x) for x in progress(items, total=n, desc=desc, disable=not progress_bar or n == 0)]
    size = chunksize or default_chunksize(n, executor)
    futures = {executor.submit(_apply_chunk, fn, items[start:start + size]): start for start in range(0, n, size)}
    results: list[Any] = [None] * n
    # as_completed needs concurrent.futures.Future objects (Dask's executor returns those too);
    # anything else is collected in submission order, which is still correct, just less lively.
    if all(isinstance(f, cf.Future) for f in futures):
        done: Iterable = cf.as_completed(futures)
    else:
        done = list(futures)
    bar = progress(total=n, desc=desc, disable=not progress_bar)
    try:
        for future in done:
            start = futures[future]
            out = future.result()
            results[start:start + len(out)] = out
            bar.update(len(out))
    finally:
        bar.close()
    return results


__all__ = ["parallel_map", "default_chunksize", "process_pool"]
