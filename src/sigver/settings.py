"""Preprocessing settings that travel with data and models.

Features are only comparable when every image went through the same preprocessing
(docs/preprocessing.md): the canvas the signature is centred on, the stored size, the
centre crop fed to the network, and what to do with a signature larger than the canvas.
``PreprocessingSettings`` holds those four values. A dataset store, a feature file, a
model folder (``preprocessing.json`` beside the model file) and an enrollment database
record them; the stages that read such a file take the settings from it
(``resolve_settings``) instead of falling back to a default silently.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sigver.errors import ParameterError, SigverError

# The GPDS canvas: the published SigNet weights were learned on signatures centred on it.
DEFAULT_CANVAS = (952, 1360)
DEFAULT_IMG_SIZE = (170, 242)
DEFAULT_INPUT_SIZE = (150, 220)
# The file beside a model file that records the settings of the data it was trained on.
SETTINGS_FILE = "preprocessing.json"


class DefaultSettingsWarning(UserWarning):
    """Nothing recorded the preprocessing settings, so the defaults are used."""


def _size(name: str, value: Any) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "give two integers, height and width") from None
    if height < 1 or width < 1:
        raise ParameterError(name, value, "height and width must be >= 1")
    return height, width


@dataclass(frozen=True)
class PreprocessingSettings:
    """How raw scans become network inputs (docs/preprocessing.md).

    Parameters
    ----------
    canvas_size
        ``(H, W)`` of the canvas the signature's centre of mass is centred on; it must be
        larger than every signature of the dataset (GPDS: 952 x 1360).
    img_size
        ``(H, W)`` the canvas is resized to and stored at (170 x 242).
    input_size
        ``(H, W)`` centre crop fed to the network (150 x 220; training takes random
        crops of this size).
    crop_oversize
        A signature larger than the canvas: ``False`` refuses it with an error naming the
        file, ``True`` keeps its middle with a warning (the published behaviour).
    """

    canvas_size: tuple[int, int] = DEFAULT_CANVAS
    img_size: tuple[int, int] = DEFAULT_IMG_SIZE
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE
    crop_oversize: bool = False

    def __post_init__(self) -> None:
        for name in ("canvas_size", "img_size", "input_size"):
            object.__setattr__(self, name, _size(name, getattr(self, name)))
        if not isinstance(self.crop_oversize, bool):
            raise ParameterError("crop_oversize", self.crop_oversize, "must be True or False")
        if (self.input_size[0] > self.img_size[0]) or (self.input_size[1] > self.img_size[1]):
            raise ParameterError("input_size", self.input_size,
                                 f"the network input cannot be larger than img_size "
                                 f"{self.img_size}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (sizes as ``[H, W]`` lists)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PreprocessingSettings:
        known = {key: values[key] for key in
                 ("canvas_size", "img_size", "input_size", "crop_oversize") if key in values}
        return cls(**known)

    @classmethod
    def from_json(cls, text: str, source: str | os.PathLike = "settings") -> \
            PreprocessingSettings:
        """Parse recorded settings; a damaged record is an error naming ``source``."""
        try:
            values = json.loads(text)
            if not isinstance(values, dict):
                raise ValueError("not a JSON object")
            return cls.from_dict(values)
        except (ValueError, TypeError) as exc:
            raise SigverError(f"{source}: damaged preprocessing settings ({exc})") from None


def resolve_settings(recorded: PreprocessingSettings | None, *, source: str,
                     canvas_size: Any = None, img_size: Any = None, input_size: Any = None,
                     crop_oversize: bool | None = None) -> PreprocessingSettings:
    """The settings to use, given what a file records and what the caller asked for.

    A value the caller gives that contradicts the recorded one is an error (features
    prepared differently are not comparable); a value the caller gives where nothing is
    recorded is used. When nothing is recorded and the caller gave no canvas, the
    default canvas is used with a one-line ``DefaultSettingsWarning`` that names it.
    ``crop_oversize`` is a choice about input handling, not about the features, so the
    caller's value always wins.

    Parameters
    ----------
    recorded
        What the store / feature file / model folder / database records, or None.
    source
        Names the recording file in messages (e.g. ``"model folder of signet.pth"``).
    canvas_size, img_size, input_size, crop_oversize
        The caller's values (None: not given).
    """
    given = {"canvas_size": canvas_size, "img_size": img_size, "input_size": input_size}
    given = {key: _size(key, value) for key, value in given.items() if value is not None}
    if recorded is None:
        if "canvas_size" not in given:
            warnings.warn(f"{source} records no preprocessing settings; using the default "
                          f"canvas {DEFAULT_CANVAS[0]} x {DEFAULT_CANVAS[1]} (GPDS)",
                          DefaultSettingsWarning, stacklevel=2)
        settings = PreprocessingSettings(**given)
    else:
        for key, value in given.items():
            if getattr(recorded, key) != value:
                stored = getattr(recorded, key)
                raise ParameterError(key, value, f"contradicts {stored[0]} {stored[1]} "
                                     f"recorded in {source}; leave it out to use the "
                                     "recorded value")
        settings = recorded
    if crop_oversize is not None:
        settings = replace(settings, crop_oversize=bool(crop_oversize))
    return settings


def settings_path_for_model(model_path: str | os.PathLike) -> Path:
    """Where the settings of a model file are recorded: ``preprocessing.json`` beside it."""
    return Path(model_path).parent / SETTINGS_FILE


def write_model_settings(model_path: str | os.PathLike,
                         settings: PreprocessingSettings) -> Path:
    """Record ``settings`` beside a model file (atomically)."""
    from sigver.io import atomic_output

    target = settings_path_for_model(model_path)
    with atomic_output(target) as tmp:
        tmp.write_text(settings.to_json() + "\n")
    return target


def read_model_settings(model_path: str | os.PathLike) -> PreprocessingSettings | None:
    """The settings recorded beside a model file, or None (e.g. a published model)."""
    path = settings_path_for_model(model_path)
    if not path.is_file():
        return None
    return PreprocessingSettings.from_json(path.read_text(), source=path)
