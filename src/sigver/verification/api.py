"""Python API: enroll a person's reference signatures, verify questioned signatures.

    import sigver

    sigver.enroll(["ref1.png", "ref2.png"], user="alice", db="sigver.db",
                  model_path="signet.pth")
    for result in sigver.verify(["questioned.png"], user="alice", db="sigver.db",
                                classifier="wi.skops"):
        print(result.file, result.decision, result.score)

A ``Verifier`` keeps the database, the classifier and the CNN loaded between calls (a
service verifying many signatures should hold one). Image files are read, preprocessed
exactly like the references (the database's settings) and turned into features by the
database's model, run by PyTorch or, from its ONNX export (``sigver export``), by ONNX
Runtime without PyTorch; either is checked against the model the database records (the
PyTorch file's SHA-256, which an export carries).

A person's score comes from the writer-independent classifier, or from their own
writer-dependent SVM (``sigver.verification.wd``) when enrolling with a background file
trained one for their current references (``method="auto"`` / ``"wd"`` / ``"wi"``).

The preprocessing settings travel with the model: the first enrollment into a database
takes them from the model (``preprocessing.json`` beside a PyTorch model file, written by
training; the metadata of an ONNX export), and the database records them for every later
enrollment and verification. Only a model folder that records nothing (e.g. the
published SigNet weights) falls back to the GPDS canvas 952 x 1360, with a
``DefaultSettingsWarning`` naming it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sigver.errors import ParameterError, SigverError
from sigver.pretrained import classifier_path, recorded_model
from sigver.pretrained import model_path as builtin_model_path
from sigver.settings import PreprocessingSettings, resolve_settings
from sigver.verification.background import Background, background_for
from sigver.verification.database import (
    DEFAULT_DB,
    DatabaseSettings,
    EnrollmentDatabase,
    EnrollResult,
    Reference,
    check_same_settings,
)
from sigver.verification.extraction import (
    FeatureModel,
    PathLike,
    PreparedImage,
    check_model_file,
    model_settings,
    prepare_image,
    prepare_images,
)
from sigver.verification.result import VerificationResult

if TYPE_CHECKING:
    from sigver.verification.persistence import TrainedVerifier
    from sigver.verification.wd import PersonSVM

# The files-to-features steps (sigver.verification.extraction), the background check and
# the result type are part of this module's interface too (the service and the
# benchmarks import them from here).
__all__ = ["FeatureModel", "PreparedImage", "VerificationResult", "Verifier",
           "background_for", "check_model_file", "enroll", "enrollment_settings",
           "model_settings", "prepare_image", "prepare_images", "train_person_svm", "verify"]


def enrollment_settings(db: PathLike = DEFAULT_DB, model_path: PathLike | None = None, *,
                        canvas_size: Sequence[int] | None = None,
                        img_size: Sequence[int] | None = None,
                        input_size: Sequence[int] | None = None,
                        crop_oversize: bool | None = None, engine: str = "auto"
                        ) -> tuple[PreprocessingSettings, DatabaseSettings | None]:
    """The preprocessing settings an enrollment into ``db`` uses, and the database's
    recorded settings (None for a new database).

    They come from the enrollment database when it records them, else from the model
    (``preprocessing.json`` beside a PyTorch ``model_path``, the metadata of an ONNX
    export; ``engine`` as in ``FeatureModel``), else they are the defaults (canvas
    952 x 1360) with a ``DefaultSettingsWarning`` naming the model folder. A
    ``canvas_size`` / ``img_size`` / ``input_size`` that contradicts the recorded value
    is a ``ParameterError``; where nothing is recorded the given values are used.
    ``crop_oversize`` (None: the recorded rule, else refuse) always wins.
    """
    stored = None
    if Path(db).exists():
        with EnrollmentDatabase(db) as database:
            stored = database.settings()
    if stored is not None:
        recorded, source = stored.preprocessing, f"the enrollment database {db}"
    else:
        if model_path is None:
            model_path = builtin_model_path()
        check_model_file(model_path)
        recorded, source = model_settings(model_path, engine)
    settings = resolve_settings(recorded, source=source, canvas_size=canvas_size,
                                img_size=img_size, input_size=input_size,
                                crop_oversize=crop_oversize)
    return settings, stored


def enroll(files: Sequence[PathLike] | PathLike, user: str, *, db: PathLike = DEFAULT_DB,
           model_path: PathLike | None = None, canvas_size: Sequence[int] | None = None,
           img_size: Sequence[int] | None = None, input_size: Sequence[int] | None = None,
           device: str = "auto", workers: int = 1, batch_size: int = 32,
           crop_oversize: bool | None = None, progress: bool = False,
           engine: str = "auto", background: PathLike | None = None) -> EnrollResult:
    """Preprocess reference signatures and store their features for ``user``.

    The first enrollment into a new database fixes its model and preprocessing settings,
    taken from the model (``preprocessing.json`` beside a PyTorch model file, the
    metadata of an ONNX export; see ``enrollment_settings``); later enrollments use the
    database's settings and must use its model (the PyTorch file or an export of it).
    Files whose content is already enrolled for the user are skipped. All files are
    stored in one transaction, or none when any of them is bad.

    Parameters
    ----------
    files
        Image files of the user's genuine signatures.
    user
        The person's id (any text).
    db
        The SQLite enrollment database (created when missing).
    model_path
        The feature model; optional once the database exists (its recorded model). A
        new database without one is enrolled with the built-in model
        (``sigver.pretrained``, docs/pretrained.md).
    canvas_size, img_size, input_size
        Only where nothing records them (a model folder without ``preprocessing.json``);
        a value contradicting the recorded one is a ``ParameterError``.
    device, batch_size
        Where and in what batches the CNN runs.
    workers
        Processes reading and preprocessing the images.
    crop_oversize
        Keep the middle of a signature larger than the canvas instead of refusing it
        (None: the recorded rule; a new database records the rule it was created with).
    engine
        ``auto``, ``torch`` or ``onnx`` (see ``FeatureModel``).
    background
        A background file (``sigver background``) of the database's model: once the
        user has at least ``sigver.verification.wd.MIN_REFERENCES`` references, their
        writer-dependent SVM is trained against it and stored in the database (it is
        checked before anything is stored).
    """
    files = [files] if isinstance(files, str | os.PathLike) else list(files)
    if not files:
        raise ParameterError("files", files, "no reference files given")
    settings, stored = enrollment_settings(db, model_path, canvas_size=canvas_size,
                                           img_size=img_size, input_size=input_size,
                                           crop_oversize=crop_oversize, engine=engine)
    if model_path is None:
        model_path = (recorded_model(stored.model_path, stored.model_sha256) if stored
                      else builtin_model_path())
    model = FeatureModel(model_path, stored.model_sha256 if stored else None, device,
                         batch_size, engine)
    wanted = DatabaseSettings(
        model_sha256=model.sha256,
        model_path=str(stored.model_path if stored else model.path.resolve()),
        feature_dim=model.feature_dim,
        # A new database records the rule it was created with; an existing one keeps its.
        preprocessing=stored.preprocessing if stored else settings)
    if stored is not None:
        check_same_settings(stored, wanted, Path(db))
    negatives = (None if background is None
                 else background_for(background, wanted.model_sha256, wanted.preprocessing))
    images = prepare_images(files, settings.canvas_size, settings.img_size, workers, progress,
                            settings.crop_oversize)
    features = model.features(images, settings.input_size)
    references = [Reference(p.file_sha256, p.path, f)
                  for p, f in zip(images, features, strict=True)]
    # The database is created (and the settings checked again, inside the transaction)
    # only now, so a bad model or image leaves no new file behind.
    with EnrollmentDatabase(db, create=True) as database:
        result = database.add_references(user, references, wanted)
    if negatives is not None:
        train_person_svm(db, user, negatives)
    return result


def train_person_svm(db: PathLike, user: str, background: Background) -> PersonSVM | None:
    """Train ``user``'s writer-dependent SVM on their stored references against
    ``background`` and store it in ``db``; None (nothing trained) while they have fewer
    than ``sigver.verification.wd.MIN_REFERENCES`` references."""
    # scikit-learn loads only here: verification scores a stored SVM without it
    from sigver.verification import wd

    with EnrollmentDatabase(db) as database:
        references = database.references(user)
    if len(references.file_sha256) < wd.MIN_REFERENCES:
        return None
    return wd.train_and_store(db, user, references.features, references.file_sha256,
                              background)


class Verifier:
    """An enrollment database, a classifier file and the database's model, loaded once.

    Parameters
    ----------
    db
        The enrollment database (must exist).
    classifier
        A classifier file from ``sigver wi fit``; it must have been trained on features
        of the database's model. None: the built-in classifier, which fits a database
        enrolled with the built-in model (docs/pretrained.md).
    model_path
        The feature model; by default the file the database recorded (checked by SHA-256
        either way). An ONNX export of the database's model is accepted.
    device, batch_size
        Where and in what batches the CNN runs.
    engine
        ``auto``, ``torch`` or ``onnx`` (see ``FeatureModel``).
    """

    def __init__(self, db: PathLike = DEFAULT_DB, classifier: PathLike | None = None, *,
                 model_path: PathLike | None = None, device: str = "auto",
                 batch_size: int = 32, engine: str = "auto") -> None:
        # skops imports every scikit-learn estimator: only verification pays for it.
        from sigver.verification.persistence import load_verifier

        builtin = classifier is None
        classifier = classifier_path() if builtin else classifier
        self.database = EnrollmentDatabase(db)
        try:
            settings = self.database.settings()
            if settings is None:
                raise SigverError(f"{db}: nobody is enrolled yet")
            self.settings = settings
            self.classifier: TrainedVerifier = load_verifier(classifier)
            if builtin and self.classifier.model_sha256 != settings.model_sha256:
                raise ParameterError(
                    "classifier", None, f"the built-in classifier fits the built-in model "
                    f"only; the database {db} was enrolled with another model: give the "
                    "classifier fitted on its features")
            if self.classifier.model_sha256 != settings.model_sha256:
                raise ParameterError(
                    "classifier", str(classifier), "was trained on features of another "
                    f"model (SHA-256 {self.classifier.model_sha256[:12]}...) than the "
                    f"database {db} ({settings.model_sha256[:12]}...)")
            if self.classifier.feature_dim != settings.feature_dim:
                raise ParameterError(
                    "classifier", str(classifier), f"expects {self.classifier.feature_dim}"
                    f"-d features, the database {db} holds {settings.feature_dim}-d features")
            self.model = FeatureModel(model_path or recorded_model(settings.model_path,
                                                                   settings.model_sha256),
                                      settings.model_sha256, device, batch_size, engine)
        except BaseException:
            self.database.close()
            raise

    @property
    def preprocessing(self) -> PreprocessingSettings:
        """The settings questioned signatures are prepared with (the database's)."""
        return self.settings.preprocessing

    def close(self) -> None:
        """Close the database."""
        self.database.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def person_svm(self, user: str, file_sha256: Sequence[str]) -> PersonSVM | None:
        """``user``'s writer-dependent SVM when one is stored for exactly these references
        and the database's model (read only: verifying never writes the database)."""
        from sigver.verification.wd import load_person_svm

        uri = f"{self.database.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                            "name = 'wd_models'").fetchone() is None:
                return None
            return load_person_svm(conn, user, file_sha256, self.settings.model_sha256)
        finally:
            conn.close()

    def verify(self, files: Sequence[PathLike] | PathLike, user: str, workers: int = 1,
               crop_oversize: bool | None = None, *, method: str = "auto",
               threshold: float | None = None) -> list[VerificationResult]:
        """Score questioned signature files against ``user``'s references.

        Parameters
        ----------
        files
            The questioned image files.
        user
            The claimed person.
        workers
            Processes reading and preprocessing the files.
        crop_oversize
            Keep the middle of a signature larger than the database's canvas instead of
            refusing it (None: the rule the database records).
        method
            ``wd``: the person's writer-dependent SVM (an error when they have none valid
            for their current references); ``wi``: the writer-independent classifier;
            ``auto``: ``wd`` when the person has such an SVM, else ``wi``.
        threshold
            Decide at this score instead of the method's own threshold (the
            classifier's for ``wi``, 0 for ``wd``).
        """
        from sigver.verification.summary import check_threshold
        from sigver.verification.wd import METHODS, WD_THRESHOLD, choose_method

        files = [files] if isinstance(files, str | os.PathLike) else list(files)
        if not files:
            raise ParameterError("files", files, "no questioned files given")
        if method not in METHODS:
            raise ParameterError("method", method, f"choose one of {', '.join(METHODS)}")
        threshold = check_threshold(threshold)
        if crop_oversize is None:
            crop_oversize = self.settings.crop_oversize
        references = self.database.references(user)
        svm = None if method == "wi" else self.person_svm(user, references.file_sha256)
        chosen = choose_method(method, svm, user)
        images = prepare_images(files, self.settings.canvas_size, self.settings.img_size,
                                workers, crop_oversize=crop_oversize)
        questioned = self.model.features(images, self.settings.input_size)
        # The classifier's score against each reference is reported whatever the method.
        fused, pair = self.classifier.score(questioned, references.features)
        if chosen == "wd":
            scores, default = svm.decision_function(questioned), WD_THRESHOLD
        else:
            scores, default = fused, self.classifier.threshold
        cut = default if threshold is None else threshold
        known = set(references.file_sha256)
        return [VerificationResult(
                    file=image.path, user=user, score=float(scores[i]), threshold=cut,
                    is_genuine=bool(scores[i] >= cut),
                    reference_scores=[(path, float(s)) for path, s in
                                      zip(references.source_paths, pair[i], strict=True)],
                    is_reference=image.file_sha256 in known, method=chosen)
                for i, image in enumerate(images)]


def verify(files: Sequence[PathLike] | PathLike, user: str, *, db: PathLike = DEFAULT_DB,
           classifier: PathLike | None = None, model_path: PathLike | None = None,
           device: str = "auto", workers: int = 1, crop_oversize: bool | None = None,
           engine: str = "auto", method: str = "auto",
           threshold: float | None = None) -> list[VerificationResult]:
    """Verify questioned signature files claimed to be ``user``'s (see ``Verifier`` and
    ``Verifier.verify``)."""
    with Verifier(db, classifier, model_path=model_path, device=device,
                  engine=engine) as verifier:
        return verifier.verify(files, user, workers=workers, crop_oversize=crop_oversize,
                               method=method, threshold=threshold)
