"""The enrollment database: SQLite, users and the features of their references.

One database serves one feature model. It records the model file's SHA-256 (and where it
was), the preprocessing settings the references were prepared with (``sigver.settings``:
canvas, stored size, network input and the rule for signatures larger than the canvas),
and per reference the source file's SHA-256, its path and its float32 feature vector.
Verification must prepare questioned signatures exactly like the references, so these
settings are fixed by the first enrollment and every later one is checked against them.
The settings live in a key/value table: databases written before the oversize rule was
recorded read with the rule ``crop_oversize=False`` (what enrollment did by default).

Concurrency and faults: the database runs in WAL mode (readers never block the writer),
every change is one ``BEGIN IMMEDIATE`` transaction (writers queue on the lock instead of
failing halfway), and SQLite's journal makes a killed process lose only its uncommitted
transaction. Features are computed before the transaction starts, so the write lock is
held only for the inserts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sigver.errors import ParameterError, SigverError
from sigver.settings import PreprocessingSettings

DEFAULT_DB = "sigver.db"
# 'SgVr' in ASCII: marks the file as a sigver enrollment database.
APPLICATION_ID = 0x53675672
SCHEMA_VERSION = 1
# Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reference_signatures (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    file_sha256 TEXT NOT NULL UNIQUE,
    source_path TEXT NOT NULL,
    features BLOB NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reference_user ON reference_signatures(user_id);
"""


@dataclass(frozen=True)
class DatabaseSettings:
    """What every feature vector of one database depends on.

    Attributes
    ----------
    model_sha256
        SHA-256 of the model file that computed the features.
    model_path
        Where that model file was when the database was created (verification loads it
        from there unless told otherwise, and checks its SHA-256).
    feature_dim
        Length of the feature vectors.
    preprocessing
        How the references were prepared (docs/preprocessing.md): canvas the signature is
        centred on, the stored size, the centre crop fed to the network, and the rule for
        signatures larger than the canvas.
    """

    model_sha256: str
    model_path: str
    feature_dim: int
    preprocessing: PreprocessingSettings = field(default_factory=PreprocessingSettings)

    @property
    def canvas_size(self) -> tuple[int, int]:
        return self.preprocessing.canvas_size

    @property
    def img_size(self) -> tuple[int, int]:
        return self.preprocessing.img_size

    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocessing.input_size

    @property
    def crop_oversize(self) -> bool:
        return self.preprocessing.crop_oversize

    def to_rows(self) -> dict[str, str]:
        """The settings as ``key -> text`` rows of the ``settings`` table."""
        return {"model_sha256": self.model_sha256, "model_path": self.model_path,
                "feature_dim": str(self.feature_dim),
                "canvas_size": _size_text(self.canvas_size),
                "img_size": _size_text(self.img_size),
                "input_size": _size_text(self.input_size),
                "crop_oversize": "1" if self.crop_oversize else "0"}

    @classmethod
    def from_rows(cls, rows: dict[str, str], path: Path) -> DatabaseSettings:
        """Parse the ``settings`` table (error naming the database when damaged)."""
        try:
            crop = rows.get("crop_oversize", "0")
            if crop not in ("0", "1"):
                raise ValueError(f"crop_oversize {crop!r}")
            preprocessing = PreprocessingSettings(
                canvas_size=_parse_size(rows["canvas_size"]),
                img_size=_parse_size(rows["img_size"]),
                input_size=_parse_size(rows["input_size"]), crop_oversize=crop == "1")
            return cls(model_sha256=rows["model_sha256"], model_path=rows["model_path"],
                       feature_dim=int(rows["feature_dim"]), preprocessing=preprocessing)
        except (KeyError, ValueError) as exc:
            raise SigverError(f"{path}: damaged settings table ({exc!r}); the database was "
                              "not written by sigver enroll") from None


def _size_text(size: tuple[int, int]) -> str:
    return f"{int(size[0])}x{int(size[1])}"


def _parse_size(text: str) -> tuple[int, int]:
    height, width = text.split("x")
    return int(height), int(width)


@dataclass(frozen=True)
class Reference:
    """One reference signature to store: where it came from and its features."""

    file_sha256: str
    source_path: str
    features: np.ndarray


@dataclass
class EnrollResult:
    """What one enrollment changed.

    ``added`` and ``already_enrolled`` list the source paths of the references that were
    stored now and of those whose file (by content) was already stored for this user.
    """

    user: str
    added: list[str] = field(default_factory=list)
    already_enrolled: list[str] = field(default_factory=list)
    total_references: int = 0


@dataclass(frozen=True)
class UserReferences:
    """A user's stored references: features (``N x D`` float32), file hashes and paths."""

    user: str
    features: np.ndarray
    file_sha256: list[str]
    source_paths: list[str]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class EnrollmentDatabase:
    """An open enrollment database.

    Parameters
    ----------
    path
        The SQLite file.
    create
        Create the database when it does not exist (enrollment). Verification opens
        existing databases only, so a mistyped path is an error, not a new empty file.

    Use as a context manager, or call ``close()``.
    """

    def __init__(self, path: str | os.PathLike, create: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise SigverError(f"{self.path}: no such enrollment database; enroll "
                                  "references into it first")
            if not self.path.parent.is_dir():
                raise SigverError(f"{self.path}: folder {self.path.parent} does not exist")
        elif not self.path.is_file():
            raise SigverError(f"{self.path}: not a file")
        try:
            # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE).
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                         isolation_level=None)
        except sqlite3.Error as exc:
            raise SigverError(f"{self.path}: cannot open ({exc})") from None
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise SigverError(f"{self.path}: not a sigver enrollment database "
                              f"({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Refuse another application's database before changing anything in it.
        app_id, version, tables = self._identity()
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise SigverError(f"{self.path}: an SQLite database of another "
                              "application, not a sigver enrollment database")
        self._switch_to_wal()
        if app_id == 0:
            with self._write():
                # Two processes may create the same new database at once: checking again
                # under the write lock lets exactly one of them create it.
                app_id, version, _ = self._identity()
                if app_id == 0:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    app_id, version = APPLICATION_ID, SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise SigverError(f"{self.path}: database schema version {version}, this "
                              f"sigver reads version {SCHEMA_VERSION}")

    def _identity(self) -> tuple[int, int, int]:
        """``(application_id, user_version, number of schema objects)`` read from one
        snapshot of the file (the schema and the marks are written in one transaction)."""
        row = self._conn.execute(
            "SELECT a.application_id, v.user_version, (SELECT count(*) FROM sqlite_master) "
            "FROM pragma_application_id() AS a, pragma_user_version() AS v").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def _switch_to_wal(self) -> None:
        # Changing the journal mode does not wait on SQLite's busy handler: while another
        # process holds the file (e.g. it is converting it too), retry until the timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                mode = None
            if mode is not None and mode.lower() == "wal":
                return
            if time.monotonic() > deadline:
                raise SigverError(f"{self.path}: cannot switch the database to WAL "
                                  f"mode (journal mode {mode})")
            time.sleep(0.01)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise SigverError(f"{self.path}: cannot start a transaction ({exc})") from None
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> EnrollmentDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # settings -----------------------------------------------------------------------

    def settings(self) -> DatabaseSettings | None:
        """The database's settings, or ``None`` while nothing is enrolled."""
        rows = dict(self._conn.execute("SELECT key, value FROM settings").fetchall())
        return DatabaseSettings.from_rows(rows, self.path) if rows else None

    def _check_or_set_settings(self, conn: sqlite3.Connection,
                               settings: DatabaseSettings) -> None:
        rows = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        if not rows:
            conn.executemany("INSERT INTO settings (key, value) VALUES (?, ?)",
                             settings.to_rows().items())
            return
        stored = DatabaseSettings.from_rows(rows, self.path)
        check_same_settings(stored, settings, self.path)

    # writing --------------------------------------------------------------------------

    def add_references(self, user: str, references: Iterable[Reference],
                       settings: DatabaseSettings) -> EnrollResult:
        """Store a user's references in one transaction (all of them or none).

        The user is created when new. A file whose content is already stored for this
        user is skipped (enrolling it again is a no-op); one stored for another user is
        an error. ``settings`` must equal the database's (the first enrollment sets them; the
        oversize rule is not compared: it decides which files are accepted, not how).
        """
        user = check_user_name(user)
        result = EnrollResult(user=user)
        with self._write() as conn:
            self._check_or_set_settings(conn, settings)
            conn.execute("INSERT OR IGNORE INTO users (name, enrolled_at) VALUES (?, ?)",
                         (user, _now()))
            user_id = conn.execute("SELECT id FROM users WHERE name = ?",
                                   (user,)).fetchone()[0]
            for ref in references:
                vector = np.ascontiguousarray(ref.features, dtype="<f4")
                if vector.shape != (settings.feature_dim,):
                    raise SigverError(f"{ref.source_path}: features of shape {vector.shape}, "
                                      f"the database holds {settings.feature_dim}-d features")
                owner = conn.execute(
                    "SELECT users.name FROM reference_signatures JOIN users "
                    "ON users.id = reference_signatures.user_id WHERE file_sha256 = ?",
                    (ref.file_sha256,)).fetchone()
                if owner is None:
                    conn.execute(
                        "INSERT INTO reference_signatures (user_id, file_sha256, source_path, "
                        "features, enrolled_at) VALUES (?, ?, ?, ?, ?)",
                        (user_id, ref.file_sha256, ref.source_path, vector.tobytes(), _now()))
                    result.added.append(ref.source_path)
                elif owner[0] == user:
                    result.already_enrolled.append(ref.source_path)
                else:
                    raise SigverError(f"{ref.source_path}: this file is already enrolled for "
                                      f"user {owner[0]!r}; a reference belongs to one person")
            result.total_references = conn.execute(
                "SELECT count(*) FROM reference_signatures WHERE user_id = ?",
                (user_id,)).fetchone()[0]
        return result

    def remove_user(self, user: str) -> int:
        """Delete a user and its references; returns how many references were removed."""
        with self._write() as conn:
            row = conn.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
            if row is None:
                raise ParameterError("user", user, f"unknown user in {self.path}")
            removed = conn.execute("SELECT count(*) FROM reference_signatures WHERE "
                                   "user_id = ?", (row[0],)).fetchone()[0]
            conn.execute("DELETE FROM users WHERE id = ?", (row[0],))
        return removed

    # reading --------------------------------------------------------------------------

    def users(self) -> list[tuple[str, int]]:
        """Every user with its number of references, by name."""
        return [(name, count) for name, count in self._conn.execute(
            "SELECT users.name, count(reference_signatures.id) FROM users LEFT JOIN "
            "reference_signatures ON reference_signatures.user_id = users.id "
            "GROUP BY users.id ORDER BY users.name")]

    def references(self, user: str) -> UserReferences:
        """A user's references (error when the user is unknown or has none)."""
        settings = self.settings()
        row = self._conn.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
        if row is None or settings is None:
            raise ParameterError("user", user, f"unknown user in {self.path} (enroll their "
                                 "references first)")
        rows = self._conn.execute(
            "SELECT file_sha256, source_path, features FROM reference_signatures "
            "WHERE user_id = ? ORDER BY id", (row[0],)).fetchall()
        if not rows:
            raise ParameterError("user", user, f"no references enrolled in {self.path}")
        features = np.stack([np.frombuffer(blob, dtype="<f4") for _, _, blob in rows])
        if features.shape[1] != settings.feature_dim:
            raise SigverError(f"{self.path}: user {user}'s features have "
                              f"{features.shape[1]} values, expected {settings.feature_dim}")
        return UserReferences(user=user, features=features.astype(np.float32),
                              file_sha256=[r[0] for r in rows],
                              source_paths=[r[1] for r in rows])

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer (``"ok"`` for a sound file)."""
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def check_user_name(user: str) -> str:
    """User ids are non-empty text without surrounding spaces (one-line error otherwise)."""
    if not isinstance(user, str) or not user.strip() or user != user.strip():
        raise ParameterError("user", user, "a user id is non-empty text without leading or "
                             "trailing spaces")
    return user


def check_same_settings(stored: DatabaseSettings, wanted: DatabaseSettings,
                        path: Path) -> None:
    """Refuse features computed by another model or with other preprocessing settings."""
    if stored.model_sha256 != wanted.model_sha256:
        raise SigverError(f"{path}: its references were computed by another model "
                          f"(SHA-256 {stored.model_sha256[:12]}..., this one "
                          f"{wanted.model_sha256[:12]}...); use that model or a new database")
    for name in ("feature_dim", "canvas_size", "img_size", "input_size"):
        if getattr(stored, name) != getattr(wanted, name):
            raise SigverError(f"{path}: references were prepared with {name} "
                              f"{getattr(stored, name)}, not {getattr(wanted, name)}")
