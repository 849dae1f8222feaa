"""Writer-dependent verification for enrolled people: one SVM per person, as in the SigNet
paper (docs/protocols-and-metrics.md).

A person with at least ``MIN_REFERENCES`` references gets an SVM trained with their
reference features as positives and a background of other writers' genuine signatures
(``sigver.verification.background``) as negatives: scale-only standardisation, RBF
kernel, the genuine class weighted by negatives / positives. Its decision value is the
score; the default threshold is the SVM's boundary (0).

The SVMs live in the enrollment database's ``wd_models`` table, one row per person,
next to the digest of the references they were trained on: a person whose references
changed since has no valid SVM until it is trained again (``fit_person_svm``), so a
stale SVM is never used. ``choose_method`` picks WD or WI for a claim (``wd``, ``wi``,
``auto``: WD when the person has a valid SVM).
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from sigver.errors import ParameterError, SigverError
from sigver.protocols.kernels import kernel_matrix, make_svc
from sigver.verification.background import Background

MIN_REFERENCES = 5
WD_THRESHOLD = 0.0
METHODS = ("auto", "wd", "wi")

_TABLE = """
CREATE TABLE IF NOT EXISTS wd_models (
    user TEXT PRIMARY KEY,
    reference_digest TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    svm BLOB NOT NULL,
    trained_at TEXT NOT NULL
)"""


def reference_digest(file_sha256: Sequence[str]) -> str:
    """One digest of a set of references (their files' SHA-256, order ignored)."""
    return hashlib.sha256("\n".join(sorted(file_sha256)).encode()).hexdigest()


@dataclass(frozen=True)
class PersonSVM:
    """A person's writer-dependent SVM, scoring raw feature vectors.

    ``support_vectors`` are already divided by ``scale``; the decision value of ``x`` is
    ``K(x / scale, support_vectors) @ dual_coef + intercept`` (positive: genuine side).
    """

    scale: np.ndarray
    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    kernel: str
    gamma: float
    reference_digest: str
    model_sha256: str
    n_references: int
    n_background: int

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Scores ``(Q,)`` of questioned feature rows (higher: more likely genuine)."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != len(self.scale):
            raise SigverError(f"questioned features have {x.shape[1]} values; the "
                              f"writer-dependent SVM was trained on {len(self.scale)}-d "
                              "features")
        k = kernel_matrix(x / self.scale, self.support_vectors, self.kernel, self.gamma)
        return k @ self.dual_coef + self.intercept

    def to_bytes(self) -> bytes:
        """The SVM as an ``.npz`` in memory (no pickled objects)."""
        buffer = io.BytesIO()
        np.savez(buffer, scale=self.scale, support_vectors=self.support_vectors,
                 dual_coef=self.dual_coef, intercept=np.float64(self.intercept),
                 kernel=np.asarray(self.kernel), gamma=np.float64(self.gamma),
                 reference_digest=np.asarray(self.reference_digest),
                 model_sha256=np.asarray(self.model_sha256),
                 counts=np.array([self.n_references, self.n_background]))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> PersonSVM:
        with np.load(io.BytesIO(blob), allow_pickle=False) as d:
            return cls(scale=d["scale"], support_vectors=d["support_vectors"],
                       dual_coef=d["dual_coef"], intercept=float(d["intercept"]),
                       kernel=str(d["kernel"]), gamma=float(d["gamma"]),
                       reference_digest=str(d["reference_digest"]),
                       model_sha256=str(d["model_sha256"]),
                       n_references=int(d["counts"][0]), n_background=int(d["counts"][1]))


def fit_person_svm(references: np.ndarray, file_sha256: Sequence[str],
                   background: Background, *, svm_type: str = "rbf", C: float = 1.0,
                   gamma: float = 2 ** -11,
                   min_references: int = MIN_REFERENCES) -> PersonSVM:
    """Train a person's SVM: their references against the background's writers.

    Parameters
    ----------
    references
        ``R x D`` feature vectors of the person's references.
    file_sha256
        The references' file hashes (the SVM records their digest).
    background
        Other writers' genuine signatures, from the same model.
    svm_type, C, gamma
        As in the WD protocol (SigNet paper: RBF, C = 1, gamma = 2^-11).
    min_references
        Fewer references than this is an error: too few positives for an SVM.
    """
    # imported here: scoring a stored SVM (sigver verify) must not load scikit-learn
    from sklearn.preprocessing import StandardScaler

    references = np.atleast_2d(np.asarray(references, dtype=np.float64))
    if len(references) < min_references:
        raise ParameterError("references", f"{len(references)} rows",
                             f"a writer-dependent SVM needs at least {min_references} "
                             "references")
    if len(file_sha256) != len(references):
        raise ParameterError("file_sha256", len(file_sha256),
                             f"one hash per reference ({len(references)})")
    if references.shape[1] != background.feature_dim:
        raise SigverError(f"the background holds {background.feature_dim}-d features, the "
                          f"references {references.shape[1]}-d")
    negatives = np.asarray(background.features, dtype=np.float64)
    x = np.concatenate([references, negatives])
    labels = np.concatenate([np.ones(len(references)), -np.ones(len(negatives))])
    scaler = StandardScaler(with_mean=False).fit(x)
    svm = make_svc(svm_type, C, gamma, class_weight={1: len(negatives) / len(references)})
    svm.fit(scaler.transform(x), labels)
    # classes_ is [-1, 1]: positive decision values are on the genuine side.
    return PersonSVM(scale=scaler.scale_.copy(), support_vectors=svm.support_vectors_.copy(),
                     dual_coef=svm.dual_coef_[0].copy(), intercept=float(svm.intercept_[0]),
                     kernel=svm_type, gamma=float(gamma),
                     reference_digest=reference_digest(file_sha256),
                     model_sha256=background.model_sha256, n_references=len(references),
                     n_background=len(negatives))


def choose_method(method: str, svm: PersonSVM | None, user: str) -> str:
    """``"wd"`` or ``"wi"`` for a claim on ``user``, given their valid SVM (or None)."""
    if method not in METHODS:
        raise ParameterError("method", method, f"choose one of {', '.join(METHODS)}")
    if method == "wd" and svm is None:
        raise SigverError(f"user {user!r} has no writer-dependent SVM (it needs at least "
                          f"{MIN_REFERENCES} references enrolled with a background file)")
    if method == "auto":
        return "wd" if svm is not None else "wi"
    return method


# The wd_models table ------------------------------------------------------------------


def ensure_table(conn: sqlite3.Connection) -> None:
    """Create the ``wd_models`` table when missing."""
    conn.execute(_TABLE)


def store_person_svm(conn: sqlite3.Connection, user: str, svm: PersonSVM) -> None:
    """Insert or replace a person's SVM (in the caller's transaction, if any)."""
    conn.execute("INSERT OR REPLACE INTO wd_models (user, reference_digest, model_sha256, "
                 "svm, trained_at) VALUES (?, ?, ?, ?, ?)",
                 (user, svm.reference_digest, svm.model_sha256, svm.to_bytes(),
                  datetime.now(timezone.utc).isoformat(timespec="seconds")))


def delete_person_svm(conn: sqlite3.Connection, user: str) -> None:
    conn.execute("DELETE FROM wd_models WHERE user = ?", (user,))


def load_person_svm(conn: sqlite3.Connection, user: str, file_sha256: Sequence[str],
                    model_sha256: str) -> PersonSVM | None:
    """A person's SVM when it was trained on exactly these references with this model."""
    row = conn.execute("SELECT reference_digest, model_sha256, svm FROM wd_models "
                       "WHERE user = ?", (user,)).fetchone()
    if row is None or row[0] != reference_digest(file_sha256) or row[1] != model_sha256:
        return None
    return PersonSVM.from_bytes(row[2])


def person_svm_for(db: str | os.PathLike, user: str, file_sha256: Sequence[str],
                   model_sha256: str) -> PersonSVM | None:
    """``load_person_svm`` on a database file (``sigver verify --method``)."""
    conn = sqlite3.connect(db)
    try:
        ensure_table(conn)
        return load_person_svm(conn, user, file_sha256, model_sha256)
    finally:
        conn.close()


def train_and_store(db: str | os.PathLike, user: str, references: np.ndarray,
                    file_sha256: Sequence[str], background: Background) -> PersonSVM:
    """Train a person's SVM and store it in the database file (``sigver enroll
    --background``)."""
    svm = fit_person_svm(references, file_sha256, background)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        ensure_table(conn)
        store_person_svm(conn, user, svm)
    finally:
        conn.close()
    return svm
