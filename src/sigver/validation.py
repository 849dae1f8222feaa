"""Checks at the boundary: is this file the kind of sigver file a function expects, can
this output be written, is this number in its range.

Every check raises a one-line ``SigverError`` that names the file (or a
``ParameterError`` naming the Python parameter), before any work starts. Files are
recognised by their first bytes and, for zip-based formats (``.npz`` stores and feature
files, torch model files, classifier files), by the names inside the archive, so a
feature file given as a dataset store is reported as "a feature file, not a dataset
store" instead of failing later on a missing array. Nothing here imports torch or
scikit-learn.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any

from sigver.errors import ParameterError, SigverError

# What the user calls each kind of file, for messages.
KIND_NAMES = {
    "store": "dataset store",
    "features": "feature file",
    "model": "model file",
    "classifier": "classifier file",
    "database": "enrollment database",
    "image": "image file",
}
# What a recognised file is, for "X, not a Y" messages.
_DESCRIPTIONS = {
    **{kind: f"a {name}" for kind, name in KIND_NAMES.items()},
    "image": "an image file",
    "npz": "a .npz archive of other arrays",
    "npy": "a single .npy array",
    "zip": "a zip archive of other content",
    "damaged-zip": "a truncated or damaged zip archive",
    "pickle": "a pickle file",
    "sqlite": "an SQLite database",
    "text": "a text file",
    "binary": "a file of unknown format",
    "folder": "a folder",
    "empty": "an empty file (0 bytes)",
}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00",
                b"MM\x00*", b"BM", b"RIFF", b"P2", b"P5", b"P3", b"P6", b"P1", b"P4")


def identify(path: str | os.PathLike) -> str:
    """What ``path`` holds: one of ``store``, ``features``, ``model`` (torch zip format),
    ``classifier``, ``database`` (sigver's or another SQLite file: ``sqlite``),
    ``image``, ``onnx`` (by its name), ``npz``, ``npy``, ``zip``, ``damaged-zip``,
    ``pickle`` (e.g. a legacy
    torch model file), ``text``, ``binary``, ``folder``, ``empty`` or ``missing``."""
    path = Path(path)
    if path.is_dir():
        return "store" if (path / "x.npy").is_file() else "folder"
    if not path.exists():
        return "missing"
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "empty"
    if path.suffix.lower() == ".onnx" and not head.startswith(b"PK"):
        # a protobuf has no magic number: the name says it, the ONNX engine checks the
        # content (docs/deployment.md)
        return "onnx"
    if head.startswith(b"SQLite format 3\x00"):
        # sigver's databases carry the application id 'SgVr' at byte 68.
        return "database" if head[68:72] == b"SgVr" else "sqlite"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _identify_zip(path)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:1] == b"\x80":
        return "pickle"
    if head.startswith(_IMAGE_MAGIC) or head[4:12] in (b"ftypavif", b"ftypheic"):
        return "image"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            pass
    return "binary"


def _identify_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return "damaged-zip"
    if "x.npy" in names:
        return "store"
    if "features.npy" in names:
        return "features"
    if "sigver-verifier.json" in names or "schema.json" in names:
        return "classifier"
    if any(name.endswith("/data.pkl") for name in names):
        return "model"
    if names and all(name.endswith(".npy") for name in names):
        return "npz"
    return "zip"


def describe(kind: str) -> str:
    """``identify``'s answer as words ("a feature file", "a text file", ...)."""
    return _DESCRIPTIONS.get(kind, kind)


def check_input_file(path: str | os.PathLike, kind: str) -> Path:
    """Refuse ``path`` unless it looks like a sigver file of ``kind``.

    Parameters
    ----------
    path
        The file (or folder, for a dataset store) given by the user.
    kind
        ``store`` (a ``.npz`` file or a folder of ``.npy`` files), ``features``,
        ``model`` (torch's zip format, or the legacy pickle format of older torch
        releases), ``classifier``, ``database`` or ``image``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SigverError
        ``"<path>: not a readable <kind> (<what it is>)"``: a folder, empty, truncated,
        text, another format, or another kind of sigver file; ``"<path>: <kind> not
        found"`` when missing.
    """
    path = Path(path)
    name = KIND_NAMES[kind]
    found = identify(path)
    if found == "missing":
        raise SigverError(f"{path}: {name} not found")
    accepted = {"store": {"store", "npz"}, "features": {"features", "npz"},
                "model": {"model", "pickle", "onnx"}, "classifier": {"classifier"},
                "database": {"database", "sqlite"}, "image": {"image", "binary"}}[kind]
    if found in accepted:
        if kind in _REQUIRED:
            _check_array_headers(path, kind)
        return path
    if found == "folder":
        what = "a folder without x.npy" if kind == "store" else "a folder"
    elif found == "damaged-zip":
        what = "truncated or damaged: its zip directory is missing"
    else:
        what = describe(found)
    raise SigverError(f"{path}: not a readable {name} ({what})")


# The arrays a store / feature file needs: key -> (number of dimensions, what it holds).
_REQUIRED = {
    "store": {"x": 4, "y": 1, "yforg": 1, "user_mapping": None, "filenames": 1},
    "features": {"features": 2, "y": 1, "yforg": 1, "filenames": 1, "model_sha256": None},
}


def _check_array_headers(path: Path, kind: str) -> None:
    """Keys and shapes of a store or feature file from the ``.npy`` headers alone (no
    array is read, so this is cheap for any size)."""
    import numpy as np

    required = _REQUIRED[kind]
    shapes: dict[str, tuple[int, ...]] = {}

    def header(handle) -> tuple[int, ...]:
        version = np.lib.format.read_magic(handle)
        shape, _, _ = (np.lib.format.read_array_header_1_0(handle) if version == (1, 0)
                       else np.lib.format.read_array_header_2_0(handle))
        return shape

    try:
        if path.is_dir():
            for key in required:
                if (path / f"{key}.npy").is_file():
                    with open(path / f"{key}.npy", "rb") as handle:
                        shapes[key] = header(handle)
        else:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                for key in required:
                    if f"{key}.npy" in names:
                        with archive.open(f"{key}.npy") as handle:
                            shapes[key] = header(handle)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SigverError(f"{path}: not a readable {KIND_NAMES[kind]} ({exc})") from None
    missing = [key for key in required if key not in shapes]
    if missing:
        raise SigverError(f"{path}: missing key(s) {', '.join(missing)}; a "
                          f"{KIND_NAMES[kind]} needs {', '.join(required)}")
    first = next(iter(required))
    if len(shapes[first]) != required[first]:
        raise SigverError(f"{path}: '{first}' must have {required[first]} dimensions, got "
                          f"shape {shapes[first]}")
    n = shapes[first][0]
    for key, ndim in required.items():
        if ndim == 1 and shapes[key] != (n,):
            raise SigverError(f"{path}: '{key}' has shape {shapes[key]} but '{first}' holds "
                              f"{n} rows (expected ({n},))")


def check_output_path(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """Refuse an output name that cannot be written, before any work starts.

    Parameters
    ----------
    path
        The file (``directory=False``) or folder to write. An existing one of the same
        kind is replaced; one of the other kind is refused.
    directory
        The output is a folder.

    Raises
    ------
    SigverError
        ``"<path>: ..."`` when it is a folder where a file is expected (or the reverse),
        its parent folder does not exist or is not a folder, or the parent is not
        writable.
    """
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        raise SigverError(f"{path}: exists and is a file, not a folder; give a folder name")
    if not directory and path.is_dir():
        raise SigverError(f"{path}: is a folder; give a file name")
    parent = path.resolve().parent if path.name else path.resolve()
    if not parent.exists():
        raise SigverError(f"{path}: the output folder does not exist ({parent})")
    if not parent.is_dir():
        raise SigverError(f"{path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SigverError(f"{path}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise SigverError(f"{path}: not writable")
    return path


def check_output_store(path: str | os.PathLike) -> Path:
    """``check_output_path`` for a dataset store: ``*.npz`` is a file, any other name a
    folder of ``.npy`` files; an existing folder is replaced only when it is a store (or
    empty), never a folder of other content."""
    path = Path(path)
    if str(path).lower().endswith(".npz"):
        return check_output_path(path)
    check_output_path(path, directory=True)
    if path.is_dir():
        others = [p.name for p in path.iterdir() if p.suffix != ".npy"]
        if others:
            raise SigverError(f"{path}: folder exists and holds other files than a dataset "
                              f"store (e.g. {sorted(others)[0]}); writing the store would "
                              "replace it: choose a new name")
    return path


def check_number(param: str, value: Any, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 high_open: bool = False, integer: bool = False) -> None:
    """Refuse ``value`` outside ``[low, high]`` (open ends with ``low_open`` /
    ``high_open``), NaN, infinity, or (``integer=True``) a non-integer.

    The message gives the valid range: ``C=0.0: must be > 0``.
    """
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        try:
            if int(value) != value:
                raise ValueError
            value = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(param, value, "must be an integer") from None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(param, value, "must be a number") from None
    if not math.isfinite(number):
        raise ParameterError(param, value, "must be a finite number")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise ParameterError(param, value, "must be " + valid_range(
            low=low, high=high, low_open=low_open, high_open=high_open))


def valid_range(*, low: float | None, high: float | None, low_open: bool = False,
                high_open: bool = False) -> str:
    """``"> 0"``, ``">= 1"``, ``"in [0, 1]"``, ``"in (0, 1)"``... for messages."""
    def show(v: float) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    if high is None:
        return f"{'>' if low_open else '>='} {show(low)}"
    if low is None:
        return f"{'<' if high_open else '<='} {show(high)}"
    return (f"in {'(' if low_open else '['}{show(low)}, {show(high)}"
            f"{')' if high_open else ']'}")


def check_svm(*, C: float, gamma: float, svm_type: str = "rbf") -> None:
    """SVM C > 0 and (RBF) gamma > 0, as finite numbers."""
    check_number("C", C, low=0, low_open=True)
    if svm_type == "rbf":
        check_number("gamma", gamma, low=0, low_open=True)
