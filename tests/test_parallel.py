"""``sigver.parallel``: guided chunks cover the items in order, and the local pool gives the
results of the plain loop, in input order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sigver.parallel import (
    GUIDED_MAX_BATCH,
    GUIDED_MIN_BATCH,
    GUIDED_SHARE,
    guided_chunks,
    parallel_imap,
)


@pytest.mark.parametrize("n_items", [0, 1, 3, GUIDED_MIN_BATCH, 17, 600, 1001, 52_000])
@pytest.mark.parametrize("workers", [1, 2, 5])
def test_guided_chunks_cover_the_items_in_shrinking_chunks(n_items, workers):
    bounds = guided_chunks(n_items, workers)
    starts = [start for start, _ in bounds]
    stops = [stop for _, stop in bounds]
    if n_items == 0:
        assert bounds == []
        return
    assert starts == [0, *stops[:-1]]  # consecutive, no gap, no overlap
    assert stops[-1] == n_items
    sizes = [stop - start for start, stop in bounds]
    assert sizes == sorted(sizes, reverse=True)
    assert all(GUIDED_MIN_BATCH <= size <= GUIDED_MAX_BATCH for size in sizes[:-1])
    for start, stop in bounds[:-1]:
        share = math.ceil((n_items - start) / (GUIDED_SHARE * workers))
        assert stop - start == min(GUIDED_MAX_BATCH, max(GUIDED_MIN_BATCH, share))


def test_guided_chunks_are_few_for_many_items():
    # 600 files on 2 workers: 30 round trips instead of 150 batches of 4.
    bounds = guided_chunks(600, 2)
    assert bounds[:3] == [(0, 64), (64, 128), (128, 187)]
    assert len(bounds) == 30


def _row_sum(seed: int) -> float:
    return float(np.random.default_rng(seed).random(50).sum())


@pytest.mark.parametrize("as_generator", [False, True])
def test_guided_pool_gives_the_loop_results_in_order(as_generator):
    seeds = list(range(45))
    expected = [_row_sum(seed) for seed in seeds]
    items = (seed for seed in seeds) if as_generator else seeds
    assert list(parallel_imap(_row_sum, items, workers=2, batch_size="guided")) == expected
