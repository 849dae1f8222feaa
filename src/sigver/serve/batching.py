"""Batched inference for concurrent requests.

Requests hand their preprocessed images to one ``FeatureBatcher``; its thread takes
whatever is queued, waits a few milliseconds more only while other requests are still
preprocessing (so a lone request is not delayed), and runs one forward pass for all of
them. One thread owns the network: no two passes compete for the cores, and a pass over
N images costs much less than N passes over one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

_STOP = object()


class FeatureBatcher:
    """Gathers images from concurrent callers into batched calls of ``compute``.

    Parameters
    ----------
    compute
        ``compute(images) -> N x D array``, called on the batcher's thread only.
    max_batch
        Images per forward pass at most.
    max_wait_s
        How long a batch waits for requests that are still preprocessing.
    """

    def __init__(self, compute: Callable[[list[Any]], np.ndarray], *, max_batch: int = 32,
                 max_wait_s: float = 0.01) -> None:
        self.compute = compute
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.batches = 0
        self.images = 0
        self._queue: queue.Queue = queue.Queue()
        self._incoming = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sigver-batcher", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Announce a request that will submit images soon (while it preprocesses)."""
        with self._lock:
            self._incoming += 1
        try:
            yield
        finally:
            with self._lock:
                self._incoming -= 1

    def submit(self, images: Sequence[Any]) -> Future:
        """Queue images; the future's result is their ``len(images) x D`` features."""
        future: Future = Future()
        self._queue.put((list(images), future))
        return future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _gather(self, first: tuple) -> tuple[list[tuple], bool]:
        batch, count = [first], len(first[0])
        deadline = time.monotonic() + self.max_wait_s
        while count < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if self._incoming == 0 or remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=min(remaining, 0.002))
                except queue.Empty:
                    continue
            if item is _STOP:
                return batch, True
            batch.append(item)
            count += len(item[0])
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stop = self._gather(first)
            images = [img for item, _ in batch for img in item]
            try:
                features = self.compute(images)
            except BaseException as exc:  # handed to every waiting request
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.images += len(images)
            start = 0
            for item, future in batch:
                future.set_result(features[start:start + len(item)])
                start += len(item)
