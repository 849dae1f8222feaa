"""Ordered parallel map with a progress bar, used wherever images are made or read.

Results come back in input order and do not depend on the number of workers, so any
randomness must come from the items themselves (e.g. a per-item seed), never from
worker state.

Inside ``sigver.cluster.use_scheduler`` the items go to the workers of a Dask cluster
instead of local processes (the same results, in the same order).

Local processes can take the items in chunks that shrink as the work runs out
(``batch_size="guided"``): each chunk is a share of what is left, so there are few round
trips through the calling process while much is left (each one leaves a worker waiting
for its next task), and the last chunks are small, so that no worker idles long while the
other finishes.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from joblib import Parallel, delayed
from tqdm.auto import tqdm

from sigver.cluster import active_client, cluster_threads, map_ordered
from sigver.errors import ParameterError

T = TypeVar("T")
R = TypeVar("R")

# Guided chunks: each holds 1 / (GUIDED_SHARE * workers) of the items left, at least
# GUIDED_MIN_BATCH and at most GUIDED_MAX_BATCH of them (sized for items of about 10 ms,
# such as images to normalise: a chunk's results come back, and the progress moves, at
# least every second or so however many items there are).
GUIDED_SHARE = 4
GUIDED_MIN_BATCH = 4
GUIDED_MAX_BATCH = 64


def resolve_workers(workers: int | None) -> int:
    """``None`` or ``0`` means every available core (inside ``use_scheduler``: every
    worker thread of the cluster); negative counts are rejected."""
    if workers is None or workers == 0:
        client = active_client()
        if client is not None:
            return cluster_threads(client)
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if workers < 0:
        raise ParameterError("workers", workers, "must be >= 0 (0 = every core)")
    return workers


def parallel_map(fn: Callable[[T], R], items: Sequence[T] | Iterable[T], *,
                 workers: int | None = 1, desc: str | None = None,
                 progress: bool = True, batch_size: int | str = "auto") -> list[R]:
    """Apply ``fn`` to every item in worker processes; return results in input order.

    Parameters
    ----------
    fn
        A picklable (module-level) function.
    items
        The inputs; a sequence gives the progress bar its total.
    workers
        Number of processes; 1 runs in this process, ``None``/0 uses every core. Inside
        ``sigver.cluster.use_scheduler`` the cluster's workers run it whatever this is.
    desc
        Label of the progress bar.
    progress
        Show the progress bar (on stderr).
    batch_size
        Items per task sent to a worker (``"auto"``: chosen by joblib / ``map_ordered``;
        ``"guided"``: shrinking chunks, ``guided_chunks``; a cluster sizes its own).
    """
    total = len(items) if isinstance(items, Sequence) else None
    results: list[R] = []
    with tqdm(total=total, desc=desc, unit="it", disable=not progress,
              dynamic_ncols=True) as bar:
        for result in parallel_imap(fn, items, workers=workers, batch_size=batch_size):
            results.append(result)
            bar.update()
    return results


def parallel_imap(fn: Callable[[T], R], items: Sequence[T] | Iterable[T], *,
                  workers: int | None = 1, batch_size: int | str = "auto") -> Iterator[R]:
    """``parallel_map`` as a generator: each result as soon as it and those before it are
    done (so a caller can store them without holding a list of all of them)."""
    n_workers = resolve_workers(workers)
    client = active_client()
    if client is not None:
        return map_ordered(client, fn, items,
                           batch_size="auto" if batch_size == "guided" else batch_size)
    if n_workers == 1:
        return (fn(item) for item in items)
    if batch_size == "guided":
        items = items if isinstance(items, Sequence) else list(items)
        runner = Parallel(n_jobs=n_workers, return_as="generator", batch_size=1)
        chunks = runner(delayed(_apply_each)(fn, items[start:stop])
                        for start, stop in guided_chunks(len(items), n_workers))
        return itertools.chain.from_iterable(chunks)
    runner = Parallel(n_jobs=n_workers, return_as="generator", batch_size=batch_size)
    return runner(delayed(fn)(item) for item in items)


def guided_chunks(n_items: int, workers: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive chunks covering ``n_items`` items: each holds
    1 / (``GUIDED_SHARE`` * ``workers``) of the items not yet in a chunk, rounded up,
    within ``GUIDED_MIN_BATCH``..``GUIDED_MAX_BATCH`` (the last one: what is left)."""
    bounds = []
    start = 0
    while start < n_items:
        share = math.ceil((n_items - start) / (GUIDED_SHARE * workers))
        size = min(GUIDED_MAX_BATCH, max(GUIDED_MIN_BATCH, share))
        bounds.append((start, min(start + size, n_items)))
        start += size
    return bounds


def _apply_each(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(item) for item in chunk]
