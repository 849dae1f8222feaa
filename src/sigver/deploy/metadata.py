"""What an ONNX export of a SigNet records, and the checks that it is one.

The graph takes ``images``: uint8 ``N x 1 x H x W`` (``H x W`` the network input size,
150 x 220 by default), the centre crop of a preprocessed signature, ink bright and
background 0, exactly the bytes of a dataset store. It divides by 255 itself and returns
``features``: float32 ``N x D``. ``N`` is dynamic. A consumer in any language therefore
feeds the stored pixels, and needs no scaling convention.

The file's metadata (ONNX ``metadata_props``, string values) records:

=========================  =============================================================
``sigver.format``          ``sigver-signet-features``
``sigver.format_version``  ``1``
``sigver.architecture``    ``signet``, ``signet_thin`` or ``signet_smaller``
``sigver.feature_dim``     ``D``
``sigver.preprocessing``   the preprocessing settings as JSON (canvas, stored and input
                           size, ``docs/preprocessing.md``)
``sigver.source_sha256``   SHA-256 of the PyTorch model file it was exported from: the
                           model's identity, checked by enrollment databases, feature
                           files and classifier files
``sigver.source_file``     that file's name
``sigver.precision``       ``float32`` or ``int8`` (statically quantized)
``sigver.calibration``     int8 only: JSON of the calibration store's name, image count
                           and method
``sigver.version``         the sigver version that wrote it
=========================  =============================================================

This module needs neither onnx nor onnxruntime: it works on the plain dict of
properties and on the input / output signature.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from sigver.errors import SigverError
from sigver.settings import PreprocessingSettings

FORMAT = "sigver-signet-features"
FORMAT_VERSION = 1
PREFIX = "sigver."
INPUT_NAME = "images"
OUTPUT_NAME = "features"
PRECISIONS = ("float32", "int8")
REQUIRED = ("format", "format_version", "architecture", "feature_dim", "preprocessing",
            "source_sha256", "precision")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ExportMetadata:
    """The record of one export (see the module docstring for the keys)."""

    architecture: str
    feature_dim: int
    settings: PreprocessingSettings
    source_sha256: str
    precision: str = "float32"
    source_file: str = ""
    calibration: dict[str, Any] = field(default_factory=dict)
    sigver_version: str = ""

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries (all strings)."""
        props = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                 "architecture": self.architecture, "feature_dim": str(self.feature_dim),
                 "preprocessing": self.settings.to_json(),
                 "source_sha256": self.source_sha256, "precision": self.precision,
                 "source_file": self.source_file, "version": self.sigver_version}
        if self.calibration:
            props["calibration"] = json.dumps(self.calibration, sort_keys=True)
        return {PREFIX + key: value for key, value in props.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str | os.PathLike) -> ExportMetadata:
        """Parse an export's metadata; anything missing or malformed is a one-line error
        naming ``source``."""
        values = {key[len(PREFIX):]: value for key, value in props.items()
                  if key.startswith(PREFIX)}
        if values.get("format") != FORMAT:
            raise SigverError(f"{source}: not a SigNet export of sigver (its metadata has "
                              f"no {PREFIX}format '{FORMAT}'; write one with "
                              "'sigver export')")
        missing = [PREFIX + key for key in REQUIRED if key not in values]
        if missing:
            raise SigverError(f"{source}: incomplete SigNet export, the metadata lacks "
                              f"{', '.join(missing)}")
        if values["format_version"] != str(FORMAT_VERSION):
            raise SigverError(f"{source}: export format version {values['format_version']}"
                              f", this sigver reads {FORMAT_VERSION}")
        try:
            feature_dim = int(values["feature_dim"])
            calibration = json.loads(values.get("calibration", "{}"))
        except ValueError as exc:
            raise SigverError(f"{source}: damaged metadata ({exc})") from None
        settings = PreprocessingSettings.from_json(values["preprocessing"], source=source)
        if not _SHA256.fullmatch(values["source_sha256"]):
            raise SigverError(f"{source}: damaged metadata ({PREFIX}source_sha256 is not a "
                              "SHA-256)")
        if values["precision"] not in PRECISIONS or feature_dim < 1:
            raise SigverError(f"{source}: damaged metadata (precision "
                              f"{values['precision']!r}, feature_dim {feature_dim})")
        return cls(architecture=values["architecture"], feature_dim=feature_dim,
                   settings=settings, source_sha256=values["source_sha256"],
                   precision=values["precision"], source_file=values.get("source_file", ""),
                   calibration=calibration if isinstance(calibration, dict) else {},
                   sigver_version=values.get("version", ""))


def check_signature(metadata: ExportMetadata, inputs: list[tuple[str, str, list]],
                    outputs: list[tuple[str, str, list]], source: str | os.PathLike) -> None:
    """The graph's inputs and outputs must be those of a SigNet export.

    ``inputs`` / ``outputs`` are ``(name, type, shape)`` with ONNX Runtime's type names
    (``tensor(uint8)``) and shapes (ints, or names / None for dynamic dimensions).
    """
    height, width = metadata.settings.input_size
    expected_in = f"one uint8 input N x 1 x {height} x {width}"
    if (len(inputs) != 1 or inputs[0][1] != "tensor(uint8)" or len(inputs[0][2]) != 4
            or list(inputs[0][2][1:]) != [1, height, width]):
        found = ", ".join(f"{name} {kind} {_shape(shape)}" for name, kind, shape in inputs)
        raise SigverError(f"{source}: not a SigNet export of sigver: it takes {found}, "
                          f"expected {expected_in}")
    if (len(outputs) != 1 or outputs[0][1] != "tensor(float)" or len(outputs[0][2]) != 2
            or outputs[0][2][1] != metadata.feature_dim):
        found = ", ".join(f"{name} {kind} {_shape(shape)}" for name, kind, shape in outputs)
        raise SigverError(f"{source}: not a SigNet export of sigver: it returns {found}, "
                          f"expected one float output N x {metadata.feature_dim}")


def _shape(shape: list) -> str:
    return " x ".join(str(d) if isinstance(d, int) else "N" for d in shape)
