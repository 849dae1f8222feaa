"""File helpers shared by every stage: atomic outputs and content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    Readers never see a half-written file: if the body raises (or the process dies),
    the temporary file or folder is removed (or left under a hidden ``.tmp`` name) and
    ``path`` keeps its previous content.

    Parameters
    ----------
    path
        The final file or folder name.
    directory
        Create a temporary folder instead of reserving a file name.
    """
    final = Path(path)
    parent = final.parent
    if not parent.is_dir():
        raise FileNotFoundError(2, "output folder does not exist", str(parent))
    prefix = f".{final.name}.tmp-"
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=parent)
        os.close(fd)
        tmp = Path(name)
    # mkstemp / mkdtemp create owner-only entries; outputs get the usual umask permissions.
    os.chmod(tmp, (0o777 if directory else 0o666) & ~_current_umask())
    try:
        yield tmp
        if directory:
            _replace_directory(tmp, final)
        else:
            os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_directory(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    # A folder cannot be swapped atomically over a non-empty one: move the old one
    # aside first so that a crash leaves either the old or the new content complete.
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    old.rmdir()
    os.replace(final, old)
    os.replace(tmp, final)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
