"""The service's one adapter onto the verification library.

Every use of ``sigver.verification.api`` and of the enrollment database class goes
through this module, so the service follows a change there in one place. It offers the
steps a request is made of, each safe to call from any thread:

- ``prepare``: read and preprocess one uploaded file (the database's settings);
- ``features``: the CNN's features of prepared images (called by the batcher only);
- ``enroll``: store references (all or none) with their preprocessed images, then train
  the person's writer-dependent SVM when a background is loaded;
- ``verify``: score questioned features against a person (WD or WI);
- ``persons`` / ``create_person`` / ``delete_person`` / ``reference_image``.

SQLite connections are per thread (``sqlite3`` objects must stay on their thread).
"""

from __future__ import annotations

import io
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from sigver.errors import SigverError
from sigver.pretrained import classifier_path, recorded_model
from sigver.pretrained import model_path as builtin_model_path
from sigver.verification import wd
from sigver.verification.api import (
    PreparedImage,
    enrollment_settings,
    prepare_image,
)
from sigver.verification.background import Background, load_background
from sigver.verification.database import (
    BUSY_TIMEOUT_S,
    DatabaseSettings,
    EnrollmentDatabase,
    Reference,
    check_same_settings,
    check_user_name,
)
from sigver.verification.extraction import FeatureModel
from sigver.verification.persistence import TrainedVerifier, load_verifier

Database = EnrollmentDatabase

_PARSE_LOCK = threading.Lock()
_IMAGES_TABLE = ("CREATE TABLE IF NOT EXISTS serve_images (file_sha256 TEXT PRIMARY KEY, "
                 "png BLOB NOT NULL)")


class NotFoundError(SigverError):
    """An unknown person or image."""


class ConflictError(SigverError):
    """The request contradicts the database (existing person, reference of another)."""


def open_database(path: str | os.PathLike, create: bool = False) -> EnrollmentDatabase:
    """Open (or create) an enrollment database, so its schema and marks exist."""
    return Database(path, create=create)


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """A plain connection to the database file for the service's own tables."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def network_view(image: PreparedImage, input_size: tuple[int, int]) -> np.ndarray:
    """The centre crop the network sees (``input_size``) of a prepared image."""
    img = image.image[0]
    top = (img.shape[0] - input_size[0]) // 2
    left = (img.shape[1] - input_size[1]) // 2
    return img[top:top + input_size[0], left:left + input_size[1]]


def png_bytes(image: np.ndarray) -> bytes:
    """A 2-D uint8 image as PNG, shown as on paper (dark ink on white)."""
    buffer = io.BytesIO()
    Image.fromarray(255 - image).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Scored:
    """The verdict on one questioned image."""

    file: str
    score: float
    threshold: float
    is_genuine: bool
    method: str
    reference_scores: list[tuple[str, str, float]] = field(default_factory=list)
    is_reference: bool = False


class Backend:
    """The database, classifier, model and optional background of one service process.

    Parameters
    ----------
    db
        The enrollment database (created when missing, if ``model_path`` is given).
    classifier
        The writer-independent classifier file (``sigver wi fit``).
    background
        A background file (``sigver background``): enables writer-dependent SVMs.
    model_path
        The feature model; by default the database's (needed for a new database).
    canvas_size
        Canvas of a new database (default: the GPDS canvas).
    device, batch_size
        Where and in what batches the CNN runs.
    engine, threads
        ``auto`` (by the model file's content), ``torch`` or ``onnx``; an ONNX session's
        intra-op threads (``sigver.verification.extraction.FeatureModel``).
    """

    def __init__(self, db: str | os.PathLike, classifier: str | os.PathLike | None = None, *,
                 background: str | os.PathLike | None = None,
                 model_path: str | os.PathLike | None = None,
                 canvas_size: tuple[int, int] | None = None, device: str = "cpu",
                 batch_size: int = 64, engine: str = "auto", threads: int = 1) -> None:
        self.db = Path(db)
        self._local = threading.local()
        with open_database(self.db, create=model_path is not None) as store:
            stored = store.settings()
        if stored is None and model_path is None:
            model_path = builtin_model_path()  # a new database: docs/pretrained.md
        # the recorded model, or the built-in one when its recorded file moved
        source = model_path or recorded_model(stored.model_path, stored.model_sha256)
        self.model = FeatureModel(source, stored.model_sha256 if stored else None,
                                  device=device, engine=engine, threads=threads,
                                  batch_size=batch_size)
        # the settings recorded in the database, else with the model (docs/preprocessing.md)
        preprocessing, _ = enrollment_settings(self.db, source,
                                               canvas_size=canvas_size, engine=engine)
        self.settings = DatabaseSettings(
            model_sha256=self.model.sha256,
            model_path=str(stored.model_path if stored else self.model.path.resolve()),
            feature_dim=self.model.feature_dim, preprocessing=preprocessing)
        if stored is not None:
            check_same_settings(stored, self.settings, self.db)
        builtin = classifier is None
        classifier = classifier_path() if builtin else classifier
        self.classifier: TrainedVerifier = load_verifier(classifier)
        if builtin and self.classifier.model_sha256 != self.model.sha256:
            raise SigverError(f"--classifier is needed: --db {self.db}'s model is not the "
                              "built-in one, which the built-in classifier scores")
        if self.classifier.model_sha256 != self.model.sha256:
            raise SigverError(f"--classifier {classifier} was trained on features of another "
                              f"model than --db {self.db}'s")
        self.background: Background | None = None
        if background is not None:
            self.background = load_background(background)
            if self.background.model_sha256 != self.model.sha256:
                raise SigverError(f"--background {background}: features of another model "
                                  f"than --db {self.db}'s")
        conn = self._conn()
        conn.execute(_IMAGES_TABLE)
        wd.ensure_table(conn)

    # connections ----------------------------------------------------------------------

    def _store(self) -> EnrollmentDatabase:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = open_database(self.db, create=True)
        return store

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.db)
        return conn

    def _person_svm(self, user: str, file_sha256: list[str]) -> wd.PersonSVM | None:
        # Reading the stored SVM parses .npy headers with ast.literal_eval, which
        # CPython 3.11 does not allow from two threads at once (SystemError "AST
        # constructor recursion depth mismatch"): one thread of the process at a time.
        with _PARSE_LOCK:
            return wd.load_person_svm(self._conn(), user, file_sha256, self.model.sha256)

    # steps of a request ---------------------------------------------------------------

    def prepare(self, path: str | os.PathLike, name: str) -> PreparedImage:
        """Read and preprocess one file; ``name`` (the upload's name) replaces its path."""
        image = prepare_image(path, self.settings.canvas_size, self.settings.img_size,
                              self.settings.crop_oversize)
        return PreparedImage(path=name, file_sha256=image.file_sha256, image=image.image)

    def features(self, images: Sequence[PreparedImage]) -> np.ndarray:
        """float32 ``N x D`` features (one forward pass per ``batch_size`` images)."""
        return self.model.features(images, self.settings.input_size)

    def network_png(self, image: PreparedImage) -> bytes:
        return png_bytes(network_view(image, self.settings.input_size))

    def persons(self) -> list[dict]:
        """Every person with their number of references and whether WD is ready."""
        conn = self._conn()
        trained = dict(conn.execute("SELECT user, reference_digest FROM wd_models"))
        out = []
        for name, count in self._store().users():
            out.append({"name": name, "references": count,
                        "wd_ready": name in trained and count >= wd.MIN_REFERENCES})
        return out

    def person(self, user: str) -> dict:
        """A person's references (file name, SHA-256) and the method ``auto`` would use."""
        store = self._store()
        if user not in {name for name, _ in store.users()}:
            raise NotFoundError(f"unknown person {user!r}")
        try:
            refs = store.references(user)
        except SigverError:  # enrolled without references yet
            return {"name": user, "references": [], "method": "wi"}
        svm = self._person_svm(user, refs.file_sha256)
        return {"name": user, "method": "wd" if svm else "wi",
                "references": [{"file": path, "sha256": digest} for path, digest in
                               zip(refs.source_paths, refs.file_sha256, strict=True)]}

    def create_person(self, user: str) -> None:
        check_user_name(user)
        store = self._store()
        if user in {name for name, _ in store.users()}:
            raise ConflictError(f"person {user!r} already exists")
        store.add_references(user, [], self.settings)

    def delete_person(self, user: str) -> int:
        store = self._store()
        if user not in {name for name, _ in store.users()}:
            raise NotFoundError(f"unknown person {user!r}")
        removed = store.remove_user(user)
        conn = self._conn()
        wd.delete_person_svm(conn, user)
        self._drop_orphan_images(conn)
        return removed

    def reference_image(self, file_sha256: str) -> bytes:
        row = self._conn().execute("SELECT png FROM serve_images WHERE file_sha256 = ?",
                                   (file_sha256,)).fetchone()
        if row is None:
            raise NotFoundError(f"no reference image {file_sha256[:12]}...")
        return row[0]

    def _drop_orphan_images(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM serve_images WHERE file_sha256 NOT IN "
                     "(SELECT file_sha256 FROM reference_signatures)")

    def enroll(self, user: str, images: Sequence[PreparedImage],
               features: np.ndarray) -> dict:
        """Store references in one transaction (all or none), then train the WD SVM.

        The preprocessed images are written first (keyed by file content); when the
        references' transaction fails they are removed again, so a failed enrollment
        leaves the database as it was.
        """
        store, conn = self._store(), self._conn()
        if user not in {name for name, _ in store.users()}:
            raise NotFoundError(f"unknown person {user!r}; create the person first")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO serve_images (file_sha256, png) "
                             "VALUES (?, ?)",
                             [(img.file_sha256, self.network_png(img)) for img in images])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        references = [Reference(img.file_sha256, img.path, f)
                      for img, f in zip(images, features, strict=True)]
        try:
            result = store.add_references(user, references, self.settings)
        except BaseException as exc:
            self._drop_orphan_images(conn)
            if isinstance(exc, SigverError) and "already enrolled for user" in str(exc):
                raise ConflictError(str(exc)) from None
            raise
        return {"person": user, "added": result.added,
                "already_enrolled": result.already_enrolled,
                "references": result.total_references, "method": self.train_wd(user)}

    def train_wd(self, user: str) -> str:
        """Train (or drop) the person's WD SVM for their current references.

        Returns the method ``auto`` will use for them. The SVM is trained outside any
        transaction; if the references changed meanwhile (a concurrent enrollment) it is
        trained again, so the stored SVM always matches the stored references.
        """
        if self.background is None:
            return "wi"
        conn = self._conn()
        for _ in range(3):
            refs = self._store().references(user)
            if len(refs.file_sha256) < wd.MIN_REFERENCES:
                wd.delete_person_svm(conn, user)
                return "wi"
            svm = wd.fit_person_svm(refs.features, refs.file_sha256, self.background)
            wd.store_person_svm(conn, user, svm)
            if self._store().references(user).file_sha256 == refs.file_sha256:
                return "wd"
        return "wi"

    def verify(self, user: str, images: Sequence[PreparedImage], features: np.ndarray, *,
               method: str = "auto", threshold: float | None = None) -> list[Scored]:
        """Score questioned images against a person (``method``: auto / wd / wi)."""
        store = self._store()
        try:
            refs = store.references(user)
        except SigverError:
            if user not in {name for name, _ in store.users()}:
                raise NotFoundError(f"unknown person {user!r}") from None
            raise SigverError(f"person {user!r} has no references yet") from None
        svm = self._person_svm(user, refs.file_sha256)
        chosen = wd.choose_method(method, svm, user)
        # The WI pair scores are reported in both cases: how the questioned signature
        # compares with each reference.
        fused, pair = self.classifier.score(features, refs.features)
        if chosen == "wd":
            scores, default = svm.decision_function(features), wd.WD_THRESHOLD
        else:
            scores, default = fused, self.classifier.threshold
        thr = default if threshold is None else float(threshold)
        known = set(refs.file_sha256)
        return [Scored(file=img.path, score=float(scores[i]), threshold=thr,
                       is_genuine=bool(scores[i] >= thr), method=chosen,
                       is_reference=img.file_sha256 in known,
                       reference_scores=[(path, digest, float(s)) for path, digest, s in
                                         zip(refs.source_paths, refs.file_sha256, pair[i],
                                             strict=True)])
                for i, img in enumerate(images)]
