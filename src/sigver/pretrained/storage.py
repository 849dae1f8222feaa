"""Half-precision storage of a model file.

The built-in model is stored in float16 to halve the file; every reader of model files
(``load_model_parts`` and the verification engines) copies the values into float32
modules, so the network computes in float32. The features then differ from those of the
float32 original by the rounding of the weights only (docs/pretrained.md gives the
measured difference).
"""

from __future__ import annotations

import os

import torch

from sigver.errors import ParameterError
from sigver.featurelearning.models import (
    FEATURE_POWER_KEY,
    read_model_file,
    valid_feature_power,
)
from sigver.io import atomic_output
from sigver.settings import read_model_settings, write_model_settings


def save_half_model(source: str | os.PathLike, target: str | os.PathLike, *,
                    feature_power: float | None = None) -> None:
    """Write the feature extractor of model file ``source`` to ``target`` in float16
    (integer buffers unchanged; the classification and forgery heads left out), with the
    ``preprocessing.json`` of ``source`` beside it when it has one. ``feature_power``
    records a power normalisation of the features (``None`` keeps the source's)."""
    if feature_power is not None and not valid_feature_power(feature_power):
        raise ParameterError("feature_power", feature_power, "must be within (0, 1]")
    features, _, _ = read_model_file(source)
    power = features.pop(FEATURE_POWER_KEY, None)
    if feature_power is not None:
        power = torch.tensor(float(feature_power))
    half = {key: value.half() if value.is_floating_point() else value
            for key, value in features.items()}
    if power is not None:  # kept in float32: it is an exponent, not a weight
        half[FEATURE_POWER_KEY] = power.float()
    with atomic_output(target) as tmp:
        torch.save((half, {}, {}), tmp)
    settings = read_model_settings(source)
    if settings is not None:
        write_model_settings(target, settings)
