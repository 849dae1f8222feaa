"""The dataset store (docs/data-formats.md): one ``.npz`` file or a folder of ``.npy`` files.

Keys: ``x`` (uint8, N x 1 x H x W, ink bright), ``y`` (user index), ``yforg`` (0 genuine,
1 skilled, 2 simple forgery), ``user_mapping`` (user index -> the dataset's own id),
``filenames`` (source file of each image). A store may hold further plain arrays (e.g. the
files skipped while processing); ``read_store`` returns them too. Stores written by sigver
record their preprocessing settings (``sigver.settings``) as a JSON string under
``preprocessing``; ``read_store_settings`` reads it back (None for published stores).

Stores written here hold no pickled objects. Stores written by the published tooling keep
``user_mapping`` as a pickled dict: its plain arrays load without unpickling, and the
mapping is unpickled only when the caller says the file is trusted.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sigver.errors import ParameterError, SigverError
from sigver.io import atomic_output
from sigver.settings import PreprocessingSettings

STORE_KEYS = ("x", "y", "yforg", "user_mapping", "filenames")
SETTINGS_KEY = "preprocessing"
UserMapping = dict[int, Any]


def is_npz_path(path: str | os.PathLike) -> bool:
    """Stores whose name ends in ``.npz`` are single files; any other name is a folder."""
    return str(path).lower().endswith(".npz")


def load_dataset(path: str | os.PathLike, trusted: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, UserMapping, np.ndarray]:
    """Load a dataset store as the published tuple ``(x, y, yforg, user_mapping, filenames)``.

    Parameters
    ----------
    path
        A ``.npz`` file, or a folder of ``.npy`` files (opened memory-mapped).
    trusted
        Allow unpickling objects stored by the published tooling (``user_mapping`` as a
        pickled dict). Unpickling runs code from the file: only for files you trust.

    Returns
    -------
    x, y, yforg, user_mapping, filenames
        ``user_mapping`` is a dict from user index to the dataset's user id.
    """
    store = read_store(path, trusted=trusted)
    return tuple(store[key] for key in STORE_KEYS)  # type: ignore[return-value]


def read_store(path: str | os.PathLike, trusted: bool = False) -> dict[str, Any]:
    """Load every array of a store (the five standard keys and any extras), validated."""
    from sigver.validation import check_input_file

    path = check_input_file(path, "store")
    raw = _read_folder(path, trusted) if path.is_dir() else _read_npz(path, trusted)
    _validate(raw, path)
    raw["y"] = np.asarray(raw["y"])
    raw["yforg"] = np.asarray(raw["yforg"])
    raw["user_mapping"] = _mapping_from_stored(raw["user_mapping"], raw["y"], path)
    return raw


class _Pickled:
    """Marks an array that holds pickled objects and was not unpickled."""


def _read_npz(path: Path, trusted: bool) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            out: dict[str, Any] = {}
            for key in data.files:
                try:
                    out[key] = data[key]
                except ValueError:
                    out[key] = _Pickled()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SigverError(f"{path}: not a readable .npz dataset store ({exc})") from None
    if trusted and any(isinstance(v, _Pickled) for v in out.values()):
        with np.load(path, allow_pickle=True) as data:
            for key, value in out.items():
                if isinstance(value, _Pickled):
                    out[key] = data[key]
    return out


def _read_folder(path: Path, trusted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for file in sorted(path.glob("*.npy")):
        try:
            out[file.stem] = np.load(file, mmap_mode="r", allow_pickle=False)
        except ValueError:
            out[file.stem] = np.load(file, allow_pickle=True) if trusted else _Pickled()
        except (OSError, EOFError) as exc:
            raise SigverError(f"{file}: not a readable .npy array ({exc})") from None
    return out


def _validate(raw: dict[str, Any], path: Path) -> None:
    missing = [key for key in STORE_KEYS if key not in raw]
    if missing:
        raise SigverError(f"{path}: missing key(s) {', '.join(missing)}; a dataset store "
                          f"needs {', '.join(STORE_KEYS)}")
    for key, value in raw.items():
        if isinstance(value, _Pickled) and key != "user_mapping":
            raise SigverError(f"{path}: '{key}' holds pickled objects; load it with "
                              "trusted=True (--trust-pickles) only if you trust this file")
    x = raw["x"]
    if x.ndim != 4 or x.shape[1] != 1 or x.dtype != np.uint8:
        raise SigverError(f"{path}: 'x' must be uint8 of shape N x 1 x H x W, "
                          f"got {x.dtype} {tuple(x.shape)}")
    n = x.shape[0]
    for key in ("y", "yforg", "filenames"):
        if np.shape(raw[key]) != (n,):
            raise SigverError(f"{path}: '{key}' has shape {tuple(np.shape(raw[key]))} but "
                              f"'x' holds {n} images (expected ({n},))")
    for key in ("y", "yforg"):
        if not np.issubdtype(raw[key].dtype, np.integer):
            raise SigverError(f"{path}: '{key}' must be integers, got {raw[key].dtype}")
    if n and np.asarray(raw["y"]).min() < 0:
        raise SigverError(f"{path}: 'y' holds negative user indices")
    bad = np.setdiff1d(np.unique(raw["yforg"]), [0, 1, 2])
    if bad.size:
        raise SigverError(f"{path}: 'yforg' values must be 0 (genuine), 1 (skilled) or "
                          f"2 (simple forgery); found {', '.join(map(str, bad[:5]))}")


def _mapping_from_stored(stored: Any, y: np.ndarray, path: Path) -> UserMapping:
    n_users = int(y.max()) + 1 if y.size else 0
    if isinstance(stored, _Pickled):
        warnings.warn(f"{path}: 'user_mapping' is a pickled object and was not loaded; "
                      "using user index = user id. Pass trusted=True (CLI: --trust-pickles) "
                      "to unpickle it if you trust this file.", stacklevel=3)
        return {i: i for i in range(n_users)}
    if stored.dtype == object:
        value = stored[()] if stored.ndim == 0 else list(stored)
        if isinstance(value, Mapping):
            return {int(k): _plain(v) for k, v in value.items()}
        return {i: _plain(v) for i, v in enumerate(value)}
    return {i: _plain(v) for i, v in enumerate(np.asarray(stored).ravel())}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def save_dataset(path: str | os.PathLike, x: np.ndarray, y: np.ndarray, yforg: np.ndarray,
                 user_mapping: Mapping[int, Any] | Sequence[Any], filenames: Sequence[str],
                 settings: PreprocessingSettings | None = None, **extra: np.ndarray) -> None:
    """Write a dataset store atomically, without pickled objects.

    Parameters
    ----------
    path
        ``*.npz`` for one file; any other name writes a folder of ``.npy`` files (which
        ``load_dataset`` opens memory-mapped).
    x, y, yforg, user_mapping, filenames
        As described in the module docstring. ``user_mapping`` may be a dict
        ``{index: id}`` with indices 0..U-1, or a sequence of ids in index order.
    settings
        The preprocessing settings the images were prepared with (recorded under
        ``preprocessing`` so later stages can take them from the store).
    extra
        Further plain (non-object) arrays to keep in the store.
    """
    arrays = {"x": np.asarray(x), "y": np.asarray(y), "yforg": np.asarray(yforg),
              "user_mapping": _mapping_to_array(user_mapping),
              "filenames": np.asarray([str(f) for f in filenames], dtype=str)
              if len(filenames) else np.zeros(0, dtype="<U1")}
    for key, value in extra.items():
        if key in arrays:
            raise ValueError(f"extra array name '{key}' clashes with a standard key")
        arrays[key] = np.asarray(value)
    if settings is not None:
        arrays[SETTINGS_KEY] = np.asarray(settings.to_json())
    for key, value in arrays.items():
        if value.dtype == object:
            raise ValueError(f"'{key}' has dtype object; a store holds plain arrays only")
    _validate(dict(arrays), Path(path))
    if is_npz_path(path):
        with atomic_output(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        with atomic_output(path, directory=True) as tmp:
            for key, value in arrays.items():
                np.save(tmp / f"{key}.npy", value, allow_pickle=False)


def read_store_settings(path: str | os.PathLike) -> PreprocessingSettings | None:
    """The preprocessing settings a store records, or None (e.g. a published store).

    Only the small ``preprocessing`` entry is read, never the images.
    """
    path = Path(path)
    if path.is_dir():
        file = path / f"{SETTINGS_KEY}.npy"
        if not file.is_file():
            return None
        try:
            text = str(np.load(file, allow_pickle=False))
        except (OSError, ValueError, EOFError) as exc:
            raise SigverError(f"{file}: not a readable .npy array ({exc})") from None
        return PreprocessingSettings.from_json(text, source=path)
    if not path.is_file():
        raise SigverError(f"{path}: dataset store not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            if SETTINGS_KEY not in data.files:
                return None
            text = str(data[SETTINGS_KEY])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SigverError(f"{path}: not a readable .npz dataset store ({exc})") from None
    return PreprocessingSettings.from_json(text, source=path)


def _mapping_to_array(user_mapping: Mapping[int, Any] | Sequence[Any]) -> np.ndarray:
    if isinstance(user_mapping, Mapping):
        keys = sorted(int(k) for k in user_mapping)
        if keys != list(range(len(keys))):
            raise ValueError("user_mapping keys must be the user indices 0..U-1")
        ids = [user_mapping[k] for k in keys]
    else:
        ids = list(user_mapping)
    if all(isinstance(i, (int, np.integer)) for i in ids):
        return np.asarray(ids, dtype=np.int64)
    return np.asarray([str(i) for i in ids], dtype=str)


def get_subset(data: Sequence[np.ndarray], subset: Iterable[int], y_idx: int = 1
               ) -> tuple[np.ndarray, ...]:
    """Keep the rows of every array in ``data`` whose ``data[y_idx]`` is in ``subset``."""
    mask = np.isin(np.asarray(data[y_idx]), np.fromiter(subset, dtype=np.int64))
    return tuple(np.asarray(d)[mask] for d in data)


def remove_forgeries(data: Sequence[np.ndarray], forg_idx: int = 2) -> tuple[np.ndarray, ...]:
    """Keep the rows of every array in ``data`` whose ``data[forg_idx]`` is 0 (genuine)."""
    mask = np.asarray(data[forg_idx]) == 0
    return tuple(np.asarray(d)[mask] for d in data)


def select_users(data: Sequence[np.ndarray], first: int, last: int, *, param: str = "users",
                 y_idx: int = 1) -> tuple[np.ndarray, ...]:
    """Keep the rows with ``first <= y < last`` (the ``--users a b`` convention).

    Raises a ``ParameterError`` naming ``param`` (the caller's parameter holding the
    range, e.g. ``exp_users``) when the range is empty or selects nothing.
    """
    y = np.asarray(data[y_idx])
    if last <= first:
        raise ParameterError(param, (first, last), "the end must be greater than the start")
    mask = (y >= first) & (y < last)
    if not mask.any():
        have = f"{int(y.min())}..{int(y.max())}" if y.size else "none"
        raise ParameterError(param, (first, last),
                             f"selects no user (users in the data: {have})")
    return tuple(np.asarray(d)[mask] for d in data)
