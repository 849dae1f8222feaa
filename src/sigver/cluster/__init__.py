"""Running the data-parallel stages on a Dask cluster (``pip install 'sigver[dask]'``).

    from sigver.cluster import use_scheduler
    with use_scheduler("tcp://scheduler:8786"):
        sigver.wd.run(features, ...)          # the per-user SVM fits go to the workers

Inside ``use_scheduler`` every ``sigver.parallel.parallel_map`` (preprocessing, synthetic
data, the writer-dependent fits) sends its items to the cluster's workers in batches and
gets the results back in input order, so the output is the same as a local run's; the
functions that take ``scheduler=`` (``process_dataset``, ``synthesize``, ...,
``sigver.cluster.extract.extract_store``) enter it themselves. ``None`` keeps the work
on local processes.

What travels: the function once per call (scattered to every worker, with the arrays it
holds), each batch of items, and the results. Items that name files (preprocessing,
extraction) need those files at the same path on every worker: a shared filesystem
(docs/dask.md). The client writes every output file itself.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sigver.errors import ParameterError

T = TypeVar("T")
R = TypeVar("R")

# How long to wait for the scheduler, and for at least one worker to join it.
CONNECT_TIMEOUT_S = 30
# Batches of items per worker thread kept in flight (bounds the results held on workers)
# and the most items in one batch (bounds the imbalance at the end of a run).
BATCHES_IN_FLIGHT = 4
MAX_BATCH = 16

_active: ContextVar[Any] = ContextVar("sigver_dask_client", default=None)


def require_dask() -> Any:
    """``dask.distributed``, or a one-line error naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise ParameterError("scheduler", None, "needs Dask, which is not installed: "
                             "pip install 'sigver[dask]'") from None
    return distributed


@contextmanager
def use_scheduler(scheduler: Any) -> Iterator[Any]:
    """Send the work of ``sigver.parallel.parallel_map`` to a Dask cluster inside the block.

    Parameters
    ----------
    scheduler
        The scheduler's address (``tcp://host:8786``), a ``dask.distributed.Client``
        (kept open), or ``None``: local processes, nothing changes.

    Yields
    ------
    dask.distributed.Client or None
    """
    if scheduler is None:
        yield None
        return
    distributed = require_dask()
    if isinstance(scheduler, distributed.Client):
        client, owned = scheduler, False
    else:
        try:
            client = distributed.Client(str(scheduler), timeout=CONNECT_TIMEOUT_S,
                                        set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError("scheduler", str(scheduler), "cannot connect to a Dask "
                                 f"scheduler there ({_first_line(exc)})") from None
        owned = True
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ParameterError("scheduler", str(scheduler), "no Dask worker joined the "
                                 f"scheduler within {CONNECT_TIMEOUT_S} s") from None
        token = _active.set(client)
        try:
            yield client
        finally:
            _active.reset(token)
    finally:
        if owned:
            client.close()


def active_client() -> Any:
    """The client of the enclosing ``use_scheduler`` block, or ``None``."""
    return _active.get()


def cluster_threads(client: Any) -> int:
    """Worker threads of the cluster (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def map_ordered(client: Any, fn: Callable[[T], R], items: Iterable[T], *,
                batch_size: int | str = "auto") -> Iterator[R]:
    """``fn`` of every item on the cluster's workers, yielded in input order.

    ``fn`` is scattered once to every worker; items go out in batches (``"auto"``: about
    eight batches per worker thread, at most ``MAX_BATCH`` items each), with at most
    ``BATCHES_IN_FLIGHT`` batches per worker thread submitted ahead of the one awaited.
    """
    threads = cluster_threads(client)
    if batch_size == "auto":
        items = items if isinstance(items, Sequence) else list(items)
        batch = max(1, min(MAX_BATCH, len(items) // (8 * threads)))
    else:
        batch = int(batch_size)
    batches = _batches(iter(items), batch)
    [remote_fn] = client.scatter([fn], broadcast=True, hash=False)
    pending: deque[Any] = deque()
    try:
        for chunk in itertools.islice(batches, BATCHES_IN_FLIGHT * threads):
            pending.append(client.submit(apply_batch, remote_fn, chunk, pure=False))
        while pending:
            results = pending.popleft().result()
            for chunk in itertools.islice(batches, 1):
                pending.append(client.submit(apply_batch, remote_fn, chunk, pure=False))
            yield from results
    finally:
        if pending:
            client.cancel(list(pending))
        client.cancel([remote_fn])


def apply_batch(fn: Callable[[T], R], batch: list[T]) -> list[R]:
    """Worker side of ``map_ordered``: ``fn`` of each item of one batch."""
    return [fn(item) for item in batch]


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
