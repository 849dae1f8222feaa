"""The built-in model: a ``signet_thin`` trained on synthetic signatures only.

Its weights (``model.pth``, float16), their preprocessing settings
(``preprocessing.json``) and the matching writer-independent classifier
(``wi-classifier.zip``) ship with the package; ``sigver.pretrained.recipe`` made them
(docs/pretrained.md). ``sigver enroll`` / ``sigver verify``, the Python API and
``sigver train --init default`` use them when no model or classifier is given.
"""

from __future__ import annotations

import os
from pathlib import Path

from sigver.errors import SigverError

# The name that stands for the built-in model where a model file is expected
# (``sigver train --init default``).
DEFAULT = "default"
MODEL_FILE = "model.pth"
CLASSIFIER_FILE = "wi-classifier.zip"
_HERE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    path = _HERE / name
    if not path.is_file():
        raise SigverError(f"the built-in {name} is missing from {_HERE} (a broken "
                          "installation: reinstall sigver)")
    return path


def model_path() -> Path:
    """The built-in model file (float16 weights; ``preprocessing.json`` beside it)."""
    return _shipped(MODEL_FILE)


def classifier_path() -> Path:
    """The writer-independent classifier fitted on the built-in model's features."""
    return _shipped(CLASSIFIER_FILE)


def resolve_model(model: str | os.PathLike) -> Path:
    """``"default"``: the built-in model file; anything else: that path."""
    return model_path() if str(model) == DEFAULT else Path(model)


def recorded_model(path: str | os.PathLike, sha256: str) -> Path:
    """The model file an enrollment database recorded, or the built-in model when that
    file has gone (sigver reinstalled elsewhere) and the built-in one has its SHA-256."""
    path = Path(path)
    if path.exists() or path.name != MODEL_FILE:
        return path
    from sigver.io import file_sha256

    shipped = _HERE / MODEL_FILE
    return shipped if shipped.is_file() and file_sha256(shipped) == sha256 else path
