"""The background file: features of other writers' genuine signatures, the negatives of
every person's writer-dependent SVM (``sigver.verification.wd``), as in the SigNet paper.

A background file is a plain ``.npz`` (no pickled objects) holding

| key | meaning |
|---|---|
| ``format``, ``format_version`` | ``sigver-wd-background``, 1 |
| ``features`` | float32 ``N x D``: genuine signatures of development writers |
| ``writers`` | int ``N``: the writer of each row |
| ``model_sha256`` | SHA-256 of the model file that produced the features |
| ``settings`` | the preprocessing settings (JSON of ``PreprocessingSettings``), or ``""`` |

Features of one model mean nothing to another, so the service refuses a background whose
model is not the enrollment database's. ``sigver background`` builds the file from a
development store (with the model) or from a feature file of ``sigver extract``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigver.errors import ParameterError, SigverError
from sigver.features import FeatureSet
from sigver.io import atomic_output
from sigver.settings import PreprocessingSettings

FORMAT = "sigver-wd-background"
FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "features", "writers", "model_sha256", "settings")


@dataclass(frozen=True)
class Background:
    """Negatives for writer-dependent SVMs.

    Attributes
    ----------
    features
        float32 ``N x D`` genuine signatures of development writers.
    writers
        The writer of each row.
    model_sha256
        The model that produced the features.
    settings
        How the signatures were preprocessed (``None`` when the source did not record it).
    """

    features: np.ndarray
    writers: np.ndarray
    model_sha256: str
    settings: PreprocessingSettings | None = None

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_writers(self) -> int:
        return len(np.unique(self.writers))


def build_background(feature_set: FeatureSet, *, per_writer: int | None = 12,
                     settings: PreprocessingSettings | None = None,
                     seed: int = 1234) -> Background:
    """Keep up to ``per_writer`` random genuine signatures of each writer of a feature set.

    Parameters
    ----------
    feature_set
        Features of development writers (never the people to verify).
    per_writer
        Genuine signatures kept per writer (``None``: all). The SigNet paper's WD SVMs
        take 14 per development writer.
    settings
        The preprocessing settings of the features' store, recorded in the file.
    seed
        Seed of the random choice of signatures.
    """
    if per_writer is not None and per_writer < 1:
        raise ParameterError("per_writer", per_writer, "keep at least 1 signature per writer")
    genuine = np.flatnonzero(np.asarray(feature_set.yforg) == 0)
    y = np.asarray(feature_set.y)[genuine]
    rng = np.random.RandomState(seed)
    keep = []
    for writer in np.unique(y):
        rows = genuine[y == writer]
        if per_writer is not None and len(rows) > per_writer:
            rows = np.sort(rng.choice(rows, per_writer, replace=False))
        keep.append(rows)
    if len(keep) < 2:
        raise SigverError(f"a background needs genuine signatures of at least 2 writers, "
                          f"the features hold {len(keep)}")
    rows = np.concatenate(keep)
    return Background(features=np.asarray(feature_set.features[rows], dtype=np.float32),
                      writers=np.asarray(feature_set.y)[rows].astype(np.int64),
                      model_sha256=feature_set.model_sha256, settings=settings)


def save_background(path: str | os.PathLike, background: Background) -> None:
    """Write a background file atomically."""
    settings = background.settings.to_json() if background.settings else ""
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, format=np.asarray(FORMAT), format_version=np.asarray(FORMAT_VERSION),
                 features=np.asarray(background.features, dtype=np.float32),
                 writers=np.asarray(background.writers, dtype=np.int64),
                 model_sha256=np.asarray(background.model_sha256),
                 settings=np.asarray(settings))


def load_background(path: str | os.PathLike) -> Background:
    """Read a background file (one-line error naming the file when it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise SigverError(f"{path}: background file not found (build one with "
                          "'sigver background')")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in _KEYS if key not in data.files]
            if missing or str(data["format"]) != FORMAT:
                raise SigverError(f"{path}: not a sigver background file")
            if int(data["format_version"]) != FORMAT_VERSION:
                raise SigverError(f"{path}: background format version "
                                  f"{int(data['format_version'])}, this sigver reads "
                                  f"{FORMAT_VERSION}")
            features = np.asarray(data["features"], dtype=np.float32)
            writers = np.asarray(data["writers"], dtype=np.int64)
            digest, settings = str(data["model_sha256"]), str(data["settings"])
    except SigverError:
        raise
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise SigverError(f"{path}: not a readable background file ({exc})") from None
    if features.ndim != 2 or len(features) != len(writers):
        raise SigverError(f"{path}: damaged background file (features {features.shape}, "
                          f"{len(writers)} writers)")
    return Background(features=features, writers=writers, model_sha256=digest,
                      settings=PreprocessingSettings.from_json(settings, source=path)
                      if settings else None)


def background_for(path: str | os.PathLike, model_sha256: str,
                   settings: PreprocessingSettings) -> Background:
    """The background file at ``path``, refused unless it holds features of the model
    ``model_sha256`` prepared with ``settings`` (where it records settings)."""
    background = load_background(path)
    if background.model_sha256 != model_sha256:
        raise ParameterError("background", str(path), "holds features of another model "
                             f"(SHA-256 {background.model_sha256[:12]}...) than the "
                             f"database's ({model_sha256[:12]}...)")
    recorded = background.settings
    if recorded is not None:
        for name, what in (("canvas_size", "canvas"), ("img_size", "stored size"),
                           ("input_size", "input size")):
            theirs, ours = getattr(recorded, name), getattr(settings, name)
            if theirs != ours:
                raise ParameterError("background", str(path), f"its signatures were "
                                     f"prepared with {what} {theirs[0]} x {theirs[1]}, the "
                                     f"database's with {ours[0]} x {ours[1]}")
    return background
