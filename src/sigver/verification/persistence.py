"""The classifier file: a fitted writer-independent classifier with its decision threshold.

Written by ``sigver wi fit`` and read by ``sigver verify``. The file is a zip archive of
one JSON document and plain ``.npy`` arrays, with no pickle anywhere:

- ``sigver-verifier.json``: format and version, the threshold and how it was chosen,
  the SHA-256 of the feature model the classifier was trained on, the feature length,
  the kernel, ``gamma`` and fusion rule, and a record of the training run;
- ``scale.npy``, ``support_vectors.npy``, ``dual_coef.npy``: the scaler's scales, the
  SVM's support vectors (in the scaled space) and their dual coefficients; the intercept
  is a JSON number.

Reading it needs numpy alone (not scikit-learn, not skops) and gives a
``DichotomyScorer`` that computes the SVM's decision function in numpy, so a cold
``sigver verify`` does not pay for importing them; nothing in the file can run code.
Classifier files of earlier sigver versions (format version 1, skops archives) still
load, through skops and its allow-list of types (imported only for them).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sigver.errors import SigverError
from sigver.io import atomic_output
from sigver.wi.scoring import FUSIONS, DichotomyScorer, fuse

if TYPE_CHECKING:
    from sigver.wi.classifier import DichotomyClassifier

FORMAT = "sigver-wi-verifier"
FORMAT_VERSION = 2
# The skops archives written before the plain format (read only).
SKOPS_FORMAT_VERSION = 1
MANIFEST = "sigver-verifier.json"
ARRAYS = ("scale", "support_vectors", "dual_coef")
# Types a version-1 (skops) classifier file may contain beyond those skops trusts by
# default (plain Python containers, numpy arrays, scikit-learn's own estimators).
ACCEPTED_TYPES = ("sigver.wi.classifier.DichotomyClassifier",)


@dataclass
class TrainedVerifier:
    """A writer-independent verifier ready to score questioned signatures.

    Attributes
    ----------
    classifier
        The fitted dichotomy SVM (scores ``|f(q) - f(r)|``): a ``DichotomyScorer`` when
        read from a file, the scikit-learn ``DichotomyClassifier`` right after fitting;
        both score the same way.
    threshold
        Fused scores at or above it are decided genuine.
    model_sha256
        SHA-256 of the model file whose features the classifier was trained on.
    feature_dim
        Length of those feature vectors.
    operating_point
        How the threshold was chosen and the error rates it gave on development data
        (``rule``, ``target_far``, ``frr``, ``far_skilled``, ``far_random``, ...).
    training
        Parameters and provenance of the training run (plain JSON-like values).
    """

    classifier: DichotomyScorer | DichotomyClassifier
    threshold: float
    model_sha256: str
    feature_dim: int
    operating_point: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    @property
    def fusion(self) -> str:
        """How the scores against several references are fused (max / min / mean / median)."""
        return self.classifier.fusion

    def score(self, questioned: np.ndarray, references: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Fused scores ``(Q,)`` and per-reference scores ``(Q, R)`` of questioned features
        against one person's reference features."""
        questioned = np.atleast_2d(np.asarray(questioned, dtype=np.float64))
        references = np.atleast_2d(np.asarray(references, dtype=np.float64))
        for name, array in (("questioned", questioned), ("reference", references)):
            if array.shape[1] != self.feature_dim:
                raise SigverError(f"{name} features have {array.shape[1]} values; the "
                                  f"classifier was trained on {self.feature_dim}-d features")
        pair = self.classifier.pair_scores(questioned, references)
        return fuse(pair, self.fusion), pair

    def is_genuine(self, fused_scores: np.ndarray) -> np.ndarray:
        """The decision at the stored threshold (score >= threshold means genuine)."""
        return np.asarray(fused_scores) >= self.threshold


def _scorer_of(classifier: DichotomyScorer | DichotomyClassifier) -> DichotomyScorer:
    return classifier if isinstance(classifier, DichotomyScorer) else classifier.to_scorer()


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in the records as plain JSON values."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a plain value")


def save_verifier(path: str | os.PathLike, verifier: TrainedVerifier) -> None:
    """Write a classifier file atomically (zip of JSON and ``.npy`` arrays, no pickle)."""
    if verifier.fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {verifier.fusion!r}")
    scorer = _scorer_of(verifier.classifier)
    if scorer.feature_dim != verifier.feature_dim:
        raise ValueError(f"the classifier scores {scorer.feature_dim}-d features, "
                         f"feature_dim is {verifier.feature_dim}")
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "threshold": float(verifier.threshold),
                "model_sha256": verifier.model_sha256,
                "feature_dim": int(verifier.feature_dim),
                "classifier": {"kernel": scorer.kernel, "gamma": scorer.gamma,
                               "intercept": scorer.intercept, "fusion": scorer.fusion,
                               "batch_rows": int(scorer.batch_rows)},
                "operating_point": verifier.operating_point, "training": verifier.training}
    text = json.dumps(manifest, indent=1, sort_keys=True, default=_plain)
    with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, text)
        for name in ARRAYS:
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(getattr(scorer, name)),
                                      allow_pickle=False)
            zf.writestr(f"{name}.npy", buffer.getvalue())


def load_verifier(path: str | os.PathLike) -> TrainedVerifier:
    """Read a classifier file (the plain format, or a skops file of earlier versions).

    Raises
    ------
    SigverError
        One line naming the file when it is missing, not a sigver classifier file, of
        another format version, damaged, or (skops files) holds types a sigver
        classifier file never holds.
    """
    path = Path(path)
    if not path.is_file():
        raise SigverError(f"--classifier {path}: classifier file not found (write one "
                          "with 'sigver wi fit')")
    try:
        with zipfile.ZipFile(path) as archive:
            if MANIFEST in archive.namelist():
                return _read_plain(archive, path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SigverError(f"--classifier {path}: not a sigver classifier file ({exc})"
                          ) from None
    return _read_skops(path)


def _check_header(content: Any, path: Path, version: int) -> None:
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise SigverError(f"--classifier {path}: not a sigver classifier file (written by "
                          "'sigver wi fit')")
    if content.get("format_version") != version:
        raise SigverError(f"--classifier {path}: format version "
                          f"{content.get('format_version')}, this sigver reads "
                          f"{SKOPS_FORMAT_VERSION} and {FORMAT_VERSION}")


def _read_plain(archive: zipfile.ZipFile, path: Path) -> TrainedVerifier:
    try:
        content = json.loads(archive.read(MANIFEST))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SigverError(f"--classifier {path}: damaged classifier file ({exc})") from None
    _check_header(content, path, FORMAT_VERSION)
    try:
        arrays = {}
        for name in ARRAYS:
            with archive.open(f"{name}.npy") as member:
                arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
        spec = content["classifier"]
        scorer = DichotomyScorer(
            **arrays, intercept=spec["intercept"], kernel=spec["kernel"],
            gamma=spec["gamma"], fusion=spec["fusion"], batch_rows=int(spec["batch_rows"]))
        verifier = _verifier(scorer, content)
    except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise SigverError(f"--classifier {path}: damaged classifier file ({exc!r})") from None
    if scorer.feature_dim != verifier.feature_dim:
        raise SigverError(f"--classifier {path}: damaged classifier file (its SVM scores "
                          f"{scorer.feature_dim}-d features, it records "
                          f"{verifier.feature_dim})")
    return verifier


def _verifier(classifier: DichotomyScorer, content: dict) -> TrainedVerifier:
    return TrainedVerifier(
        classifier=classifier, threshold=float(content["threshold"]),
        model_sha256=str(content["model_sha256"]), feature_dim=int(content["feature_dim"]),
        operating_point=dict(content["operating_point"]), training=dict(content["training"]))


def _read_skops(path: Path) -> TrainedVerifier:
    """A version-1 classifier file: a skops archive, loaded with an allow-list of types."""
    import skops.io as sio

    from sigver.wi.classifier import DichotomyClassifier

    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = sorted(set(untrusted) - set(ACCEPTED_TYPES))
        if refused:
            raise SigverError(f"--classifier {path}: refused, it contains types a sigver "
                              f"classifier file never holds: {', '.join(refused)}")
        content = sio.load(path, trusted=list(untrusted))
    except SigverError:
        raise
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise SigverError(f"--classifier {path}: not a sigver classifier file ({exc})"
                          ) from None
    _check_header(content, path, SKOPS_FORMAT_VERSION)
    classifier = content.get("classifier")
    if not isinstance(classifier, DichotomyClassifier):
        raise SigverError(f"--classifier {path}: damaged classifier file (no classifier)")
    try:
        return _verifier(classifier.to_scorer(), content)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SigverError(f"--classifier {path}: damaged classifier file ({exc!r})") from None
