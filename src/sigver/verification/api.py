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
database's model; the model file is checked against the SHA-256 the database records.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sigver.errors import SigverError
from sigver.io import file_sha256
from sigver.parallel import parallel_map
from sigver.verification.store import (
    DEFAULT_DB,
    EnrollmentStore,
    EnrollResult,
    Reference,
    StoreSettings,
    check_same_settings,
)

if TYPE_CHECKING:
    from sigver.verification.persistence import TrainedVerifier

# The GPDS canvas: the pretrained SigNet weights were learned on signatures centred on it.
DEFAULT_CANVAS = (952, 1360)
PathLike = str | os.PathLike


@dataclass(frozen=True)
class PreparedImage:
    """A signature file read and preprocessed: its content hash and ``1 x H x W`` image."""

    path: str
    file_sha256: str
    image: np.ndarray


def prepare_image(path: PathLike, canvas_size: tuple[int, int],
                  img_size: tuple[int, int] = (170, 242),
                  crop_oversize: bool = False) -> PreparedImage:
    """Read a signature file and preprocess it (SPEC section 2) at the stored size.

    Errors (missing, unreadable, blank) are one line naming the file. A signature larger
    than the canvas is an error too, as in ``process_dataset``, unless ``crop_oversize``:
    then its middle is kept (the published behaviour) with a warning naming the file.
    """
    from sigver.imageio import read_signature_image
    from sigver.preprocessing.normalize import CanvasTooSmallWarning, preprocess_signature

    img = read_signature_image(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if not crop_oversize:
                warnings.simplefilter("error", CanvasTooSmallWarning)
            processed = preprocess_signature(img, canvas_size, img_size, input_size=None)
    except CanvasTooSmallWarning as exc:
        raise SigverError(f"{path}: the signature is larger than the canvas "
                          f"{canvas_size[0]} x {canvas_size[1]} ({exc}); enroll into a new "
                          "database with a larger --canvas-size, or pass --crop-oversize "
                          "to keep its middle as the published code does") from None
    except SigverError as exc:
        raise SigverError(f"{path}: {exc}") from None
    for warning in caught:
        warnings.warn(f"{path}: {warning.message}", warning.category, stacklevel=2)
    return PreparedImage(path=str(path), file_sha256=file_sha256(path),
                         image=processed[None])


def _prepare(item: tuple[str, tuple[int, int], tuple[int, int], bool]) -> PreparedImage:
    return prepare_image(*item)


def prepare_images(files: Sequence[PathLike], canvas_size: tuple[int, int],
                   img_size: tuple[int, int] = (170, 242), workers: int = 1,
                   progress: bool = False, crop_oversize: bool = False
                   ) -> list[PreparedImage]:
    """``prepare_image`` for many files, in parallel worker processes, in input order."""
    items = [(str(f), tuple(canvas_size), tuple(img_size), crop_oversize) for f in files]
    return parallel_map(_prepare, items, workers=workers, desc="preprocess",
                        progress=progress)


class FeatureModel:
    """A model file loaded for extraction, with its SHA-256.

    Parameters
    ----------
    path
        The model file (SPEC section 4).
    expected_sha256
        When given, the file must have this SHA-256 (the database's model).
    device
        ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(self, path: PathLike, expected_sha256: str | None = None,
                 device: str = "auto", batch_size: int = 32) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SigverError(f"--model-path {self.path}: model file not found")
        self.sha256 = file_sha256(self.path)
        if expected_sha256 is not None and self.sha256 != expected_sha256:
            raise SigverError(f"--model-path {self.path}: not the model this database was "
                              f"enrolled with (SHA-256 {self.sha256[:12]}..., the database "
                              f"expects {expected_sha256[:12]}...)")
        from sigver.featurelearning.data import resolve_device
        from sigver.featurelearning.models import load_model_file

        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.model = load_model_file(self.path, device=self.device)
        self.feature_dim = int(self.model.feature_space_size)

    def features(self, images: Sequence[PreparedImage],
                 input_size: tuple[int, int] = (150, 220)) -> np.ndarray:
        """float32 ``N x D`` features of prepared images (centre crop ``input_size``)."""
        from sigver.featurelearning.extract import extract_features

        x = np.stack([p.image for p in images])
        return extract_features(self.model, x, batch_size=self.batch_size,
                                device=self.device, input_size=tuple(input_size),
                                progress=False)


def enroll(files: Sequence[PathLike] | PathLike, user: str, *, db: PathLike = DEFAULT_DB,
           model_path: PathLike | None = None, canvas_size: tuple[int, int] | None = None,
           img_size: tuple[int, int] | None = None,
           input_size: tuple[int, int] | None = None, device: str = "auto",
           workers: int = 1, batch_size: int = 32, crop_oversize: bool = False,
           progress: bool = False) -> EnrollResult:
    """Preprocess reference signatures and store their features for ``user``.

    The first enrollment into a new database fixes its model and preprocessing settings
    (defaults: canvas 952 x 1360, stored size 170 x 242, network input 150 x 220); later
    enrollments use the database's settings and must use its model. Files whose content
    is already enrolled for the user are skipped. All files are stored in one
    transaction, or none when any of them is bad.

    Parameters
    ----------
    files
        Image files of the user's genuine signatures.
    user
        The person's id (any text).
    db
        The SQLite enrollment database (created when missing).
    model_path
        The feature model; optional once the database exists (its recorded model).
    canvas_size, img_size, input_size
        Preprocessing settings for a new database (checked against an existing one).
    device, batch_size
        Where and in what batches the CNN runs.
    workers
        Processes reading and preprocessing the images.
    crop_oversize
        Keep the middle of a signature larger than the canvas instead of refusing it.
    """
    files = [files] if isinstance(files, str | os.PathLike) else list(files)
    if not files:
        raise SigverError("no reference files given")
    stored = None
    if Path(db).exists():
        with EnrollmentStore(db) as store:
            stored = store.settings()
    if model_path is None:
        if stored is None:
            raise SigverError(f"--model-path is needed for the first enrollment into {db}")
        model_path = stored.model_path
    model = FeatureModel(model_path, stored.model_sha256 if stored else None, device,
                         batch_size)
    wanted = StoreSettings(
        model_sha256=model.sha256,
        model_path=str(stored.model_path if stored else model.path.resolve()),
        feature_dim=model.feature_dim,
        canvas_size=tuple(canvas_size or (stored.canvas_size if stored else DEFAULT_CANVAS)),
        img_size=tuple(img_size or (stored.img_size if stored else (170, 242))),
        input_size=tuple(input_size or (stored.input_size if stored else (150, 220))))
    if stored is not None:
        check_same_settings(stored, wanted, Path(db))
    images = prepare_images(files, wanted.canvas_size, wanted.img_size, workers, progress,
                            crop_oversize)
    features = model.features(images, wanted.input_size)
    references = [Reference(p.file_sha256, p.path, f)
                  for p, f in zip(images, features, strict=True)]
    # The database is created (and the settings checked again, inside the transaction)
    # only now, so a bad model or image leaves no new file behind.
    with EnrollmentStore(db, create=True) as store:
        return store.add_references(user, references, wanted)


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on one questioned signature.

    Attributes
    ----------
    file
        The questioned file.
    user
        The claimed identity.
    score
        The fused score (higher: more likely genuine).
    threshold
        The classifier's decision threshold.
    is_genuine
        ``score >= threshold``.
    reference_scores
        ``(reference file, score)`` per enrolled reference, in enrollment order.
    is_reference
        The questioned file is itself one of the user's references (its score is
        meaningless).
    """

    file: str
    user: str
    score: float
    threshold: float
    is_genuine: bool
    reference_scores: list[tuple[str, float]]
    is_reference: bool = False

    @property
    def decision(self) -> str:
        """``"genuine"`` or ``"forgery"``."""
        return "genuine" if self.is_genuine else "forgery"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {"file": self.file, "user": self.user, "score": self.score,
                "threshold": self.threshold, "decision": self.decision,
                "is_reference": self.is_reference,
                "reference_scores": [{"reference": ref, "score": score}
                                     for ref, score in self.reference_scores]}


class Verifier:
    """An enrollment database, a classifier file and the database's model, loaded once.

    Parameters
    ----------
    db
        The enrollment database (must exist).
    classifier
        A classifier file from ``sigver wi fit``; it must have been trained on features
        of the database's model.
    model_path
        The feature model; by default the file the database recorded (checked by SHA-256
        either way).
    device, batch_size
        Where and in what batches the CNN runs.
    """

    def __init__(self, db: PathLike = DEFAULT_DB, classifier: PathLike = "wi.skops", *,
                 model_path: PathLike | None = None, device: str = "auto",
                 batch_size: int = 32) -> None:
        # skops imports every scikit-learn estimator: only verification pays for it.
        from sigver.verification.persistence import load_verifier

        self.store = EnrollmentStore(db)
        try:
            settings = self.store.settings()
            if settings is None:
                raise SigverError(f"--db {db}: nobody is enrolled yet")
            self.settings = settings
            self.classifier: TrainedVerifier = load_verifier(classifier)
            if self.classifier.model_sha256 != settings.model_sha256:
                raise SigverError(
                    f"--classifier {classifier} was trained on features of another model "
                    f"(SHA-256 {self.classifier.model_sha256[:12]}...) than --db {db} "
                    f"({settings.model_sha256[:12]}...)")
            if self.classifier.feature_dim != settings.feature_dim:
                raise SigverError(f"--classifier {classifier} expects "
                                  f"{self.classifier.feature_dim}-d features, --db {db} holds "
                                  f"{settings.feature_dim}-d features")
            self.model = FeatureModel(model_path or settings.model_path,
                                      settings.model_sha256, device, batch_size)
        except BaseException:
            self.store.close()
            raise

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def verify(self, files: Sequence[PathLike] | PathLike, user: str, workers: int = 1,
               crop_oversize: bool = False) -> list[VerificationResult]:
        """Score questioned signature files against ``user``'s references.

        ``workers`` processes read and preprocess the files; ``crop_oversize`` keeps the
        middle of a signature larger than the database's canvas instead of refusing it.
        """
        files = [files] if isinstance(files, str | os.PathLike) else list(files)
        if not files:
            raise SigverError("no questioned files given")
        references = self.store.references(user)
        images = prepare_images(files, self.settings.canvas_size, self.settings.img_size,
                                workers, crop_oversize=crop_oversize)
        questioned = self.model.features(images, self.settings.input_size)
        fused, pair = self.classifier.score(questioned, references.features)
        decisions = self.classifier.is_genuine(fused)
        known = set(references.file_sha256)
        return [VerificationResult(
                    file=image.path, user=user, score=float(fused[i]),
                    threshold=self.classifier.threshold, is_genuine=bool(decisions[i]),
                    reference_scores=[(path, float(s)) for path, s in
                                      zip(references.source_paths, pair[i], strict=True)],
                    is_reference=image.file_sha256 in known)
                for i, image in enumerate(images)]


def verify(files: Sequence[PathLike] | PathLike, user: str, *, db: PathLike = DEFAULT_DB,
           classifier: PathLike = "wi.skops", model_path: PathLike | None = None,
           device: str = "auto", workers: int = 1,
           crop_oversize: bool = False) -> list[VerificationResult]:
    """Verify questioned signature files claimed to be ``user``'s (see ``Verifier``)."""
    with Verifier(db, classifier, model_path=model_path, device=device) as verifier:
        return verifier.verify(files, user, workers=workers, crop_oversize=crop_oversize)
