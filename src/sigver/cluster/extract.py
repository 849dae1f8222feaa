"""Feature extraction of a dataset store on a Dask cluster (``sigver extract --scheduler``).

The client reads the store's labels and settings and sends chunks of row numbers out;
each worker opens the model file and the store at the same paths (a shared filesystem:
docs/dask.md) once, runs the network on its rows and sends the features back. A chunk is
a whole number of batches starting at a multiple of ``batch_size``, so every forward
pass sees the same images as in ``sigver.featurelearning.extract.extract_store``, which
this mirrors (same settings rules, same result).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sigver.cluster import active_client, cluster_threads, use_scheduler
from sigver.datasets.util import is_npz_path, load_dataset, select_users
from sigver.errors import ParameterError, SigverError
from sigver.features import FeatureSet
from sigver.io import file_sha256
from sigver.parallel import parallel_imap
from sigver.settings import read_model_settings

# Chunks per worker thread (load balance) and the most batches in one chunk.
CHUNKS_PER_THREAD = 4
MAX_BATCHES_PER_CHUNK = 16

# Worker side: the model and the store's images last opened, by (path, size, mtime).
_opened: dict[str, tuple[tuple[Any, ...], Any]] = {}


def extract_store(model_path: str | os.PathLike, data_path: str | os.PathLike, *,
                  scheduler: Any, batch_size: int = 32, device: str = "auto",
                  input_size: Sequence[int] | None = None, model_name: str | None = None,
                  users: tuple[int, int] | None = None, trusted: bool = False,
                  progress: bool = True, bf16: bool = False) -> FeatureSet:
    """``sigver.featurelearning.extract.extract_store`` with the forward passes on the
    workers of the Dask ``scheduler`` (an address or a ``dask.distributed.Client``;
    ``None`` runs it locally). The same parameters and the same result.

    ``model_path`` and ``data_path`` must name the same files on every worker.
    """
    from sigver.featurelearning.extract import extract_store as local_extract
    from sigver.featurelearning.extract import extraction_settings

    if scheduler is None:
        return local_extract(model_path, data_path, batch_size=batch_size, device=device,
                             input_size=input_size, model_name=model_name, users=users,
                             trusted=trusted, progress=progress, bf16=bf16)
    if batch_size < 1:
        raise ParameterError("batch_size", batch_size, "must be >= 1")
    if not Path(model_path).is_file():
        raise SigverError(f"{model_path}: model file not found")
    settings, crop = extraction_settings(data_path, model_path,
                                         read_model_settings(model_path), input_size)
    x, y, yforg, _, filenames = load_dataset(data_path, trusted=trusted)
    rows = np.arange(len(y))
    if users is not None:
        rows, y, yforg, filenames = select_users((rows, y, yforg, filenames), *users)
    if len(rows) == 0:
        raise SigverError("no images to extract features from")
    from sigver.featurelearning.data import check_crop

    check_crop(x.shape[-2:], crop)
    source = (str(Path(model_path).absolute()), str(Path(data_path).absolute()), model_name)
    options = {"batch_size": batch_size, "device": device, "input_size": tuple(crop),
               "bf16": bf16}
    features = np.empty((len(rows), 0), dtype=np.float32)
    with use_scheduler(scheduler), tqdm(total=len(rows), desc="extract", unit="img",
                                        disable=not progress, dynamic_ncols=True) as bar:
        step = batch_size * _batches_per_chunk(len(rows), batch_size)
        tasks = [(source, rows[start:start + step], options)
                 for start in range(0, len(rows), step)]
        for start, part in zip(range(0, len(rows), step),
                               parallel_imap(extract_rows, tasks, batch_size=1), strict=True):
            if features.shape[1] == 0:
                features = np.empty((len(rows), part.shape[1]), dtype=np.float32)
            features[start:start + len(part)] = part
            bar.update(len(part))
    return FeatureSet(features=features, y=np.asarray(y), yforg=np.asarray(yforg),
                      filenames=np.asarray(filenames, dtype=str),
                      model_sha256=file_sha256(model_path), settings=settings)


def _batches_per_chunk(n_rows: int, batch_size: int) -> int:
    threads = cluster_threads(active_client())
    batches = -(-n_rows // batch_size)
    return max(1, min(MAX_BATCHES_PER_CHUNK, batches // (CHUNKS_PER_THREAD * threads)))


def extract_rows(task: tuple[tuple[str, str, str | None], np.ndarray, dict[str, Any]]
                 ) -> np.ndarray:
    """Worker: the features of some rows of a store (model and store opened once)."""
    from sigver.featurelearning.extract import extract_features
    from sigver.featurelearning.models import load_model_file

    (model_path, data_path, model_name), rows, options = task
    model = _open("model", model_path, model_name,
                  lambda: load_model_file(model_path, model_name))
    images_file = data_path if is_npz_path(data_path) else str(Path(data_path) / "x.npy")
    images = _open("images", images_file, None, lambda: _store_images(images_file))
    return extract_features(model, images[rows], progress=False, **options)


def _open(kind: str, path: str, variant: Any, load: Any) -> Any:
    """The object ``load`` makes from ``path``, reused while the file is unchanged."""
    try:
        stat = os.stat(path)
    except OSError:
        raise SigverError(f"{path}: not found on this Dask worker (the workers need the "
                          "files at the same path: a shared filesystem)") from None
    key = (path, variant, stat.st_size, stat.st_mtime_ns)
    cached = _opened.get(kind)
    if cached is None or cached[0] != key:
        _opened[kind] = (key, load())
    return _opened[kind][1]


def _store_images(path: str) -> np.ndarray:
    """The ``x`` array of a store: its ``.npz`` file, or the ``x.npy`` of a folder store
    (memory-mapped); nothing is unpickled."""
    if not is_npz_path(path):
        return np.load(path, mmap_mode="r", allow_pickle=False)
    with np.load(path, allow_pickle=False) as data:
        return data["x"]
