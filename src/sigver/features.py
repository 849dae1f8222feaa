"""Feature files: CNN features of a dataset store, extracted once and reused by every
writer-dependent / writer-independent experiment without the CNN.

A feature file is an ``.npz`` without pickled objects holding ``features`` (float32,
N x D, in the store's order), ``y``, ``yforg``, ``filenames``, ``model_sha256`` (the
SHA-256 of the model file that produced them) and, when known, ``preprocessing``: the
settings the images were prepared with (``sigver.settings``, a JSON string). Files
without it (older ones, or features of a store that records no settings) read with
``settings=None``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from sigver.errors import SigverError
from sigver.io import atomic_output
from sigver.settings import PreprocessingSettings

FEATURE_KEYS = ("features", "y", "yforg", "filenames", "model_sha256")
SETTINGS_KEY = "preprocessing"


@dataclass(frozen=True)
class FeatureSet:
    """Features of N signatures with their labels and provenance.

    ``settings`` are the preprocessing settings of the images (None when unknown).
    """

    features: np.ndarray
    y: np.ndarray
    yforg: np.ndarray
    filenames: np.ndarray
    model_sha256: str
    settings: PreprocessingSettings | None = None

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``(features, y, yforg)`` tuple the WD / WI fold functions take."""
        return self.features, self.y, self.yforg


def save_features(path: str | os.PathLike, feature_set: FeatureSet) -> None:
    """Write a feature file atomically."""
    n = len(feature_set.features)
    for name in ("y", "yforg", "filenames"):
        if len(getattr(feature_set, name)) != n:
            raise ValueError(f"'{name}' has {len(getattr(feature_set, name))} rows, "
                             f"features have {n}")
    arrays = {"features": np.asarray(feature_set.features, dtype=np.float32),
              "y": np.asarray(feature_set.y), "yforg": np.asarray(feature_set.yforg),
              "filenames": np.asarray(feature_set.filenames, dtype=str),
              "model_sha256": np.asarray(feature_set.model_sha256, dtype=str)}
    if feature_set.settings is not None:
        arrays[SETTINGS_KEY] = np.asarray(feature_set.settings.to_json())
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_features(path: str | os.PathLike) -> FeatureSet:
    """Read and validate a feature file written by ``save_features`` (``sigver extract``)."""
    from sigver.validation import check_input_file

    path = check_input_file(path, "features")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in FEATURE_KEYS if key not in data.files]
            if missing:
                raise SigverError(f"{path}: missing key(s) {', '.join(missing)}; is this a "
                                  "feature file from 'sigver extract'?")
            arrays = {key: data[key] for key in FEATURE_KEYS}
            recorded = str(data[SETTINGS_KEY]) if SETTINGS_KEY in data.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, SigverError):
            raise
        raise SigverError(f"{path}: not a readable feature file ({exc})") from None
    features = arrays["features"]
    if features.ndim != 2:
        raise SigverError(f"{path}: 'features' must be N x D, got shape {features.shape}")
    n = features.shape[0]
    for key in ("y", "yforg", "filenames"):
        if arrays[key].shape != (n,):
            raise SigverError(f"{path}: '{key}' has shape {arrays[key].shape}, expected ({n},)")
    settings = (PreprocessingSettings.from_json(recorded, source=path)
                if recorded is not None else None)
    return FeatureSet(features=features, y=arrays["y"], yforg=arrays["yforg"],
                      filenames=arrays["filenames"], model_sha256=str(arrays["model_sha256"]),
                      settings=settings)


def feature_set_from(*, features_path: str | os.PathLike | None = None,
                     model_path: str | os.PathLike | None = None,
                     data_path: str | os.PathLike | None = None,
                     input_size: tuple[int, int] | None = None, device: str = "auto",
                     batch_size: int = 32, trusted: bool = False,
                     progress: bool = True) -> FeatureSet:
    """The features of an experiment: read from a feature file, or extracted from a
    dataset store with a model file.

    Parameters
    ----------
    features_path
        A feature file (``save_features`` / ``sigver extract``). With ``model_path`` as
        well, the file must have been extracted with that model (same SHA-256).
    model_path, data_path
        Without ``features_path``: the model file and the dataset store to extract
        features from (needs torch).
    input_size, device, batch_size, trusted, progress
        Extraction settings (``sigver.featurelearning.extract.extract_store``;
        ``input_size`` None: the one the store records); ``trusted`` allows unpickling
        the store's ``user_mapping``.
    """
    from sigver.errors import ParameterError
    from sigver.io import file_sha256

    if features_path is not None:
        features = load_features(features_path)
        if model_path is not None:
            digest = file_sha256(model_path)
            if digest != features.model_sha256:
                raise ParameterError(
                    "model_path", str(model_path),
                    f"its SHA-256 is {digest[:12]}..., but the features in {features_path} "
                    f"were extracted with model {features.model_sha256[:12]}...")
        return features
    if model_path is None or data_path is None:
        raise ParameterError("features_path", None,
                             "give a feature file, or a model file and a dataset store to "
                             "extract features from")
    # torch only when extracting
    from sigver.featurelearning.extract import extract_store

    return extract_store(model_path, data_path, batch_size=batch_size, device=device,
                         input_size=input_size, trusted=trusted, progress=progress)
