"""The classifier file: a fitted writer-independent classifier with its decision threshold.

Written by ``sigver wi fit`` and read by ``sigver verify``. The file is a skops archive
(a zip of JSON and numpy arrays, no pickle): loading rebuilds only the types on an
allow-list, so a classifier file from an untrusted source cannot run code. It holds the
classifier, the threshold and how it was chosen, the fusion rule, the SHA-256 of the
feature model the classifier was trained on, and a record of the training run.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skops.io as sio

from sigver.errors import SigverError
from sigver.io import atomic_output
from sigver.wi.classifier import FUSIONS, DichotomyClassifier, fuse

FORMAT = "sigver-wi-verifier"
FORMAT_VERSION = 1
# Types a classifier file may contain beyond those skops trusts by default (plain Python
# containers, numpy arrays, scikit-learn's own estimators such as SVC and StandardScaler).
ACCEPTED_TYPES = ("sigver.wi.classifier.DichotomyClassifier",)


@dataclass
class TrainedVerifier:
    """A writer-independent verifier ready to score questioned signatures.

    Attributes
    ----------
    classifier
        The fitted dichotomy SVM (scores ``|f(q) - f(r)|``).
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

    classifier: DichotomyClassifier
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


def save_verifier(path: str | os.PathLike, verifier: TrainedVerifier) -> None:
    """Write a classifier file atomically (skops format)."""
    if verifier.fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {verifier.fusion!r}")
    content = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "classifier": verifier.classifier, "threshold": float(verifier.threshold),
               "model_sha256": verifier.model_sha256,
               "feature_dim": int(verifier.feature_dim),
               "operating_point": verifier.operating_point, "training": verifier.training}
    with atomic_output(path) as tmp:
        sio.dump(content, tmp)


def load_verifier(path: str | os.PathLike) -> TrainedVerifier:
    """Read a classifier file, refusing any type outside the allow-list.

    Raises
    ------
    SigverError
        One line naming the file when it is missing, not a skops archive, holds
        other types than a sigver classifier file may, or lacks a field.
    """
    path = Path(path)
    if not path.is_file():
        raise SigverError(f"--classifier {path}: classifier file not found (write one "
                          "with 'sigver wi fit')")
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
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise SigverError(f"--classifier {path}: not a sigver classifier file (written by "
                          "'sigver wi fit')")
    if content.get("format_version") != FORMAT_VERSION:
        raise SigverError(f"--classifier {path}: format version "
                          f"{content.get('format_version')}, this sigver reads "
                          f"{FORMAT_VERSION}")
    try:
        verifier = TrainedVerifier(
            classifier=content["classifier"], threshold=float(content["threshold"]),
            model_sha256=str(content["model_sha256"]),
            feature_dim=int(content["feature_dim"]),
            operating_point=dict(content["operating_point"]),
            training=dict(content["training"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SigverError(f"--classifier {path}: damaged classifier file ({exc!r})") from None
    if not isinstance(verifier.classifier, DichotomyClassifier):
        raise SigverError(f"--classifier {path}: damaged classifier file (no classifier)")
    return verifier
