"""Ordered parallel map with a progress bar, used wherever images are made or read.

Results come back in input order and do not depend on the number of workers, so any
randomness must come from the items themselves (e.g. a per-item seed), never from
worker state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from joblib import Parallel, delayed
from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int | None) -> int:
    """``None`` or ``0`` means every available core; negative counts are rejected."""
    if workers is None or workers == 0:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if workers < 0:
        raise ValueError(f"--workers must be >= 0, got {workers}")
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
        Number of processes; 1 runs in this process, ``None``/0 uses every core.
    desc
        Label of the progress bar.
    progress
        Show the progress bar (on stderr).
    """
    n_workers = resolve_workers(workers)
    total = len(items) if isinstance(items, Sequence) else None
    bar = tqdm(total=total, desc=desc, unit="it", disable=not progress, dynamic_ncols=True)
    results: list[R] = []
    try:
        if n_workers == 1:
            for item in items:
                results.append(fn(item))
                bar.update()
        else:
            runner = Parallel(n_jobs=n_workers, return_as="generator", batch_size=batch_size)
            for result in runner(delayed(fn)(item) for item in items):
                results.append(result)
                bar.update()
    finally:
        bar.close()
    return results
