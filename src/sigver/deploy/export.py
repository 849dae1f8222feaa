"""``export_onnx``: a SigNet model file as an ONNX file, float32 or int8.

The export runs PyTorch's ``torch.export``-based ONNX exporter (the TorchScript-based
one is deprecated) on the feature extractor with its batch norms folded into the conv /
fc layers, behind a first step that turns the uint8 input into floats in [0, 1] as
``sigver extract`` does; the batch size is dynamic. ``sigver.deploy.metadata`` describes
the graph's input and output and the metadata it records. The result passes
``onnx.checker`` (full check, with shape inference) before it is written, atomically.

``int8=True`` quantizes the graph statically with ONNX Runtime's quantization tools:
8-bit weights (per output channel) and activations, their ranges measured by running
the float32 graph on ``calibration_images`` images of a dataset store preprocessed like
the model's training data. The quantized graph is in QDQ form (quantize / dequantize
pairs around each operator), which ONNX Runtime runs with its integer kernels.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sigver import __version__
from sigver.deploy.engines import center_crop
from sigver.deploy.metadata import INPUT_NAME, OUTPUT_NAME, ExportMetadata
from sigver.deploy.optional import import_optional
from sigver.errors import ParameterError, SigverError
from sigver.io import atomic_output, file_sha256
from sigver.settings import PreprocessingSettings, read_model_settings, resolve_settings

CALIBRATION_IMAGES = 256
CALIBRATION_BATCH = 32


@dataclass(frozen=True)
class ExportResult:
    """What ``export_onnx`` wrote."""

    path: Path
    sha256: str
    size_bytes: int
    metadata: ExportMetadata

    def summary(self) -> str:
        """One line for the command line."""
        meta = self.metadata
        height, width = meta.settings.input_size
        return (f"wrote {self.path}: {meta.architecture}, {meta.precision}, "
                f"{meta.feature_dim} features, input uint8 N x 1 x {height} x {width}, "
                f"{self.size_bytes / 1e6:.1f} MB")


def export_onnx(model_path: str | os.PathLike, out: str | os.PathLike, *,
                model_name: str | None = None,
                settings: PreprocessingSettings | None = None, int8: bool = False,
                calibration_data: str | os.PathLike | None = None,
                calibration_images: int = CALIBRATION_IMAGES) -> ExportResult:
    """Export a SigNet-family model file to ONNX.

    Parameters
    ----------
    model_path
        The PyTorch model file (docs/models-and-training.md; published
        files included).
    out
        The ``.onnx`` file to write.
    model_name
        The architecture; inferred from the weights when None.
    settings
        The preprocessing settings to record; None: those recorded beside the model file
        (``preprocessing.json``), else the defaults with a ``DefaultSettingsWarning``.
        Given settings must not contradict recorded ones.
    int8
        Quantize statically to 8 bits (needs ``calibration_data``).
    calibration_data
        A dataset store preprocessed with the model's settings (int8 only).
    calibration_images
        How many of its images calibrate the activation ranges (spread evenly over the
        store; a few hundred are enough).

    Returns
    -------
    ExportResult
    """
    onnx = import_optional("onnx", "ONNX export")
    import_optional("onnxscript", "ONNX export")
    if int8:
        import_optional("onnxruntime", "int8 export")
        if calibration_data is None:
            raise ParameterError("calibration_data", None, "an int8 export needs a dataset "
                                 "store to calibrate on (a few hundred images preprocessed "
                                 "like the model's training data)")
        if calibration_images < 1:
            raise ParameterError("calibration_images", calibration_images, "must be >= 1")
    elif calibration_data is not None:
        raise ParameterError("calibration_data", str(calibration_data),
                             "only used by an int8 export")
    model_path = Path(model_path)
    from sigver.featurelearning.models import load_model_parts

    parts = load_model_parts(model_path, model_name)
    settings = _settings(model_path, settings)
    calibration: dict[str, Any] = {}
    if int8:
        images = calibration_set(calibration_data, settings, calibration_images)
        calibration = {"store": Path(calibration_data).name, "images": len(images),
                       "method": "minmax"}
    metadata = ExportMetadata(
        architecture=parts.name, feature_dim=int(parts.model.feature_space_size),
        settings=settings, source_sha256=file_sha256(model_path),
        precision="int8" if int8 else "float32", source_file=model_path.name,
        calibration=calibration, sigver_version=__version__)
    with tempfile.TemporaryDirectory(prefix="sigver-export-") as work:
        graph = Path(work) / "float32.onnx"
        onnx.save(_torch_export(parts.model, settings.input_size), graph)
        if int8:
            graph = quantize_int8(graph, Path(work) / "int8.onnx", images)
        proto = onnx.load(graph)
    _annotate(onnx, proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    with atomic_output(out) as tmp:
        onnx.save(proto, tmp)
    out = Path(out)
    return ExportResult(path=out, sha256=file_sha256(out), size_bytes=out.stat().st_size,
                        metadata=metadata)


def _settings(model_path: Path, given: PreprocessingSettings | None
              ) -> PreprocessingSettings:
    recorded = read_model_settings(model_path)
    source = f"model folder of {model_path}"
    if given is None:
        return resolve_settings(recorded, source=source)
    return resolve_settings(recorded, source=source, canvas_size=given.canvas_size,
                            img_size=given.img_size, input_size=given.input_size,
                            crop_oversize=given.crop_oversize)


def _torch_export(model: Any, input_size: tuple[int, int]) -> Any:
    """The ONNX ModelProto of ``model`` behind the uint8 -> [0, 1] input step."""
    import torch

    from sigver.featurelearning.extract import fold_batch_norm
    from sigver.featurelearning.models import feature_network

    class Uint8Input(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            # the same operations as sigver.featurelearning.data.to_network_input
            return self.net(images.float().div(255))

    wrapped = Uint8Input(feature_network(fold_batch_norm(model).cpu())).eval()
    example = torch.zeros((2, 1, *input_size), dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1)
    # The exporter logs its progress and warns about optional torchvision operators;
    # neither concerns a SigNet.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(wrapped, (example,), None, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME],
                                        dynamic_shapes=({0: batch},), verbose=False)
    finally:
        exporter_log.setLevel(level)
    return program.model_proto


def _annotate(onnx: Any, proto: Any, metadata: ExportMetadata) -> None:
    props = metadata.to_props()
    kept = [p for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in props.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    height, width = metadata.settings.input_size
    proto.producer_name = "sigver"
    proto.producer_version = __version__
    proto.doc_string = (f"SigNet features ({metadata.architecture}, {metadata.precision}): "
                        f"input '{INPUT_NAME}' uint8 N x 1 x {height} x {width}, the centre "
                        "crop of a preprocessed signature (ink bright, background 0); output "
                        f"'{OUTPUT_NAME}' float32 N x {metadata.feature_dim}.")


def calibration_set(path: str | os.PathLike, settings: PreprocessingSettings,
                    count: int) -> np.ndarray:
    """``count`` centre-cropped uint8 images of a dataset store, spread evenly over it.

    The store must have been preprocessed like the model's data: settings it records
    must equal ``settings`` (canvas, stored size).
    """
    from sigver.datasets.util import load_dataset, read_store_settings

    path = Path(path)
    recorded = read_store_settings(path)
    if recorded is not None and (recorded.canvas_size, recorded.img_size) != (
            settings.canvas_size, settings.img_size):
        raise ParameterError(
            "calibration_data", str(path),
            f"preprocessed on canvas {recorded.canvas_size[0]} x {recorded.canvas_size[1]} "
            f"at {recorded.img_size[0]} x {recorded.img_size[1]}, the model's data on "
            f"{settings.canvas_size[0]} x {settings.canvas_size[1]} at "
            f"{settings.img_size[0]} x {settings.img_size[1]}")
    x = load_dataset(path)[0]
    height, width = settings.input_size
    if x.shape[2] < height or x.shape[3] < width:
        raise ParameterError("calibration_data", str(path),
                             f"its images ({x.shape[2]} x {x.shape[3]}) are smaller than "
                             f"the network input {height} x {width}")
    if len(x) == 0:
        raise ParameterError("calibration_data", str(path), "the store holds no images")
    index = np.unique(np.linspace(0, len(x) - 1, min(count, len(x))).round().astype(int))
    return np.concatenate([center_crop(x, i, i + 1, settings.input_size) for i in index])


def quantize_int8(fp32_path: Path, out: Path, images: np.ndarray) -> Path:
    """Statically quantize a float32 export (QDQ, per-channel int8 weights, uint8
    activations, MinMax ranges measured on ``images``); returns ``out``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[np.ndarray] = (
                images[i:i + CALIBRATION_BATCH]
                for i in range(0, len(images), CALIBRATION_BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    prepared = out.with_name("prepared.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out), Batches(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    if not out.is_file():
        raise SigverError(f"{fp32_path}: quantization produced no model")
    return out
