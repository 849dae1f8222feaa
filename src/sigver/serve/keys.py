"""API keys: random tokens, stored only as their SHA-256 in the enrollment database.

A key is ``sv_`` followed by 32 random bytes (URL-safe base64); it is shown once, when
created (``sigver keys create``), and never stored or logged. The database keeps its
SHA-256: a plain hash suffices because the token has 256 bits of entropy (nothing to
guess by brute force), and the lookup compares digests in constant time. Each key has a
role: ``verify`` (list persons, verify) or ``admin`` (also create / delete persons and
enroll references).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from sigver.errors import ParameterError, SigverError
from sigver.serve.backend import connect, open_database

ROLES = ("verify", "admin")
PREFIX = "sv_"

_TABLE = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""


@dataclass(frozen=True)
class KeyInfo:
    """A stored key, without any secret."""

    id: int
    name: str
    role: str
    created_at: str
    revoked: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _open(db: str | os.PathLike) -> sqlite3.Connection:
    # Opening through the database class first creates the file with its schema and
    # marks (or refuses a file that is not an enrollment database).
    open_database(db, create=True).close()
    conn = connect(db)
    conn.execute(_TABLE)
    return conn


def create_key(db: str | os.PathLike, role: str, name: str = "") -> tuple[int, str]:
    """Store a new key; returns ``(id, token)``. The token is not kept anywhere."""
    if role not in ROLES:
        raise ParameterError("role", role, f"choose one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    conn = _open(db)
    try:
        cursor = conn.execute(
            "INSERT INTO api_keys (name, role, key_sha256, created_at) VALUES (?, ?, ?, ?)",
            (name, role, _digest(token),
             datetime.now(timezone.utc).isoformat(timespec="seconds")))
        return int(cursor.lastrowid), token
    finally:
        conn.close()


def list_keys(db: str | os.PathLike) -> list[KeyInfo]:
    conn = _open(db)
    try:
        return [KeyInfo(i, n, r, c, v is not None) for i, n, r, c, v in conn.execute(
            "SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY id")]
    finally:
        conn.close()


def revoke_key(db: str | os.PathLike, key_id: int) -> None:
    conn = _open(db)
    try:
        cursor = conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND "
                              "revoked_at IS NULL",
                              (datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               int(key_id)))
        if cursor.rowcount == 0:
            raise SigverError(f"no active key with id {key_id} in {db}")
    finally:
        conn.close()


class KeyChecker:
    """Answers "which role does this token have?" for the service (any thread)."""

    def __init__(self, db: str | os.PathLike) -> None:
        self.db = db
        self._local = threading.local()
        _open(db).close()

    def role(self, token: str | None) -> str | None:
        """The key's role, or None for a missing, unknown or revoked key."""
        if not token or not token.startswith(PREFIX) or len(token) > 128:
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.db)
        digest = _digest(token)
        row = conn.execute("SELECT key_sha256, role FROM api_keys WHERE key_sha256 = ? "
                           "AND revoked_at IS NULL", (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        return row[1]
