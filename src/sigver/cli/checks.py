"""The checks every command runs right after parsing its flags, before any work: input
files of the right kind, outputs that can be written, numbers in range.

Each failure is one ``SigverError`` line that starts with the flag (``--model-path
x.npz: a dataset store, not a model file``); ``sigver.cli.run_main`` prints it and
returns 2. The checks themselves live in ``sigver.validation`` (which the library uses
with Python parameter names).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping

from sigver import validation
from sigver.errors import ParameterError, SigverError


def _flagged(flag: str, exc: SigverError) -> SigverError:
    return SigverError(f"{flag} {exc}")


def input_file(flag: str, path: str | os.PathLike | None, kind: str) -> None:
    """``--flag PATH`` must be a sigver file of ``kind`` (nothing to check when None)."""
    if path is None:
        return
    try:
        validation.check_input_file(path, kind)
    except SigverError as exc:
        raise _flagged(flag, exc) from None


def input_files(flag: str, paths: Iterable[str | os.PathLike], kind: str) -> None:
    """``input_file`` for each of several files (positional ``FILE`` arguments)."""
    for path in paths:
        input_file(flag, path, kind)


def input_folder(flag: str, path: str | os.PathLike, what: str = "folder") -> None:
    """``--flag PATH`` must be an existing folder (``what`` names it in the message)."""
    if not os.path.exists(path):
        raise SigverError(f"{flag} {path}: {what} not found")
    if not os.path.isdir(path):
        raise SigverError(f"{flag} {path}: is a file, not a folder")


def output_file(flag: str, path: str | os.PathLike | None) -> None:
    """``--flag PATH`` names a file that can be written (not a folder, parent exists)."""
    if path is None:
        return
    try:
        validation.check_output_path(path)
    except SigverError as exc:
        raise _flagged(flag, exc) from None


def output_folder(flag: str, path: str | os.PathLike | None) -> None:
    """``--flag PATH`` names a folder that can be created or written into."""
    if path is None:
        return
    try:
        validation.check_output_path(path, directory=True)
    except SigverError as exc:
        raise _flagged(flag, exc) from None


def output_store(flag: str, path: str | os.PathLike | None) -> None:
    """``--flag PATH`` names a dataset store that can be written."""
    if path is None:
        return
    try:
        validation.check_output_store(path)
    except SigverError as exc:
        raise _flagged(flag, exc) from None


def number(flag: str, value: float | int | None, **limits) -> None:
    """``--flag VALUE`` within the limits of ``sigver.validation.check_number``."""
    if value is None:
        return
    try:
        validation.check_number(flag, value, **limits)
    except ParameterError as exc:
        raise SigverError(exc.for_flag(flag)) from None


def user_range(flag: str, values: Iterable[int] | None) -> None:
    """``--flag A B``: 0 <= A < B."""
    if values is None:
        return
    first, end = values
    if first < 0:
        raise SigverError(f"{flag} {first} {end}: the start must be >= 0")
    if end <= first:
        raise SigverError(f"{flag} {first} {end}: the end must be greater than the start")


@contextlib.contextmanager
def paths_as_flags(files: Mapping[str, str | os.PathLike | None]) -> Iterator[None]:
    """Start a library error about one of ``files`` (``{flag: path}``; library messages
    begin with the path) with that file's flag: ``--db bank.db: not a sigver ...``."""
    try:
        yield
    except SigverError as exc:
        text = str(exc)
        for flag, path in files.items():
            if path is not None and text.startswith(f"{path}:"):
                raise SigverError(f"{flag} {text}") from None
        raise


def workers(flag: str, value: int | None) -> None:
    """Worker counts: >= 0 (0: every core)."""
    if value is not None and value < 0:
        raise SigverError(f"{flag} {value}: must be >= 0 (0 = every core)")
