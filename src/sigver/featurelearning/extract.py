"""Feature extraction (docs/models-and-training.md); the command is ``sigver extract``
(``cli/extract.py``, also ``python -m sigver.featurelearning.extract``).

Features are computed once per dataset and model and saved with ``y``, ``yforg``,
``filenames``, the model file's SHA-256 and the store's preprocessing settings, so every
writer-dependent / writer-independent experiment can reuse them without the CNN.
``extract_store`` runs the model through a feature engine (``sigver.deploy.engines``):
the PyTorch file, or its ONNX export by ONNX Runtime, which records the same SHA-256.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from tqdm.auto import tqdm

from sigver.datasets.util import load_dataset, read_store_settings, select_users
from sigver.errors import ParameterError, SigverError
from sigver.featurelearning.data import (
    center_crop_batch,
    check_crop,
    fast_layout,
    resolve_device,
    to_network_input,
)
from sigver.featurelearning.models import feature_network
from sigver.features import FeatureSet
from sigver.settings import (
    DEFAULT_INPUT_SIZE,
    PreprocessingSettings,
    resolve_settings,
    settings_path_for_model,
)


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """An inference copy of a SigNet with each batch norm folded into its conv / fc layer.

    In eval mode a batch norm is an affine map, so it merges into the preceding layer's
    weights (plus a bias): the same outputs up to float rounding, one pass fewer over
    every activation. The model given is not changed.
    """
    fused = copy.deepcopy(model).eval()
    for block in list(fused.modules()):
        if not isinstance(block, nn.Sequential) or "bn" not in block._modules:
            continue
        if "conv" in block._modules:
            block.conv = fuse_conv_bn_eval(block.conv, block.bn)
        elif "fc" in block._modules:
            block.fc = fuse_linear_bn_eval(block.fc, block.bn)
        else:
            continue
        block.bn = nn.Identity()
    return fused


def prepare_network(model: nn.Module, device: torch.device) -> nn.Module:
    """The inference network of ``model`` on ``device``: batch norms folded, channels
    last, followed by the model's power normalisation if it has one. Preparing copies
    the model, so a caller that extracts many small batches (a service, an engine)
    prepares once and passes the result to ``run_network``."""
    return feature_network(fast_layout(fold_batch_norm(model).to(device)))


def extract_features(model: nn.Module, x: np.ndarray, *, batch_size: int = 32,
                     device: str | torch.device = "auto",
                     input_size: tuple[int, int] = (150, 220), progress: bool = True,
                     bf16: bool = False) -> np.ndarray:
    """Features of every image of ``x``, in input order.

    Parameters
    ----------
    model
        A feature extractor (e.g. from ``load_model_file``); it is not modified.
    x
        uint8 ``N x 1 x H x W`` images (an array or a memmap), ink bright.
    batch_size
        Images per forward pass.
    device
        ``auto``, ``cpu`` or ``cuda``.
    input_size
        The centre crop fed to the network.
    progress
        Show a progress bar.
    bf16
        Run under bfloat16 autocast (faster on CPUs / GPUs with bf16 units, features
        differ slightly from float32).

    Returns
    -------
    np.ndarray
        float32 ``N x D``.
    """
    _check_input(x, batch_size, input_size)
    device = resolve_device(device)
    return run_network(prepare_network(model, device), x, batch_size=batch_size,
                       device=device, input_size=input_size, progress=progress, bf16=bf16)


def _check_input(x: np.ndarray, batch_size: int, input_size: tuple[int, int]) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise SigverError(f"images must be N x 1 x H x W, got shape {tuple(x.shape)}")
    if batch_size < 1:
        raise ParameterError("batch_size", batch_size, "must be >= 1")
    check_crop(x.shape[-2:], input_size)


def run_network(net: nn.Module, x: np.ndarray, *, batch_size: int, device: torch.device,
                input_size: tuple[int, int], progress: bool = False,
                bf16: bool = False) -> np.ndarray:
    """``extract_features`` with a network from ``prepare_network`` (checked inputs)."""
    n = x.shape[0]
    out: np.ndarray | None = None
    with torch.inference_mode(), tqdm(total=n, desc="extract", unit="img",
                                      disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            inputs = to_network_input(center_crop_batch(x, start, stop, input_size), device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                features = net(inputs)
            if out is None:
                out = np.empty((n, features.shape[1]), dtype=np.float32)
            out[start:stop] = features.float().cpu().numpy()
            bar.update(stop - start)
    if out is None:
        raise SigverError("no images to extract features from")
    return out


def extract_store(model_path: str | os.PathLike, data_path: str | os.PathLike, *,
                  batch_size: int = 32, device: str | torch.device = "auto",
                  input_size: Sequence[int] | None = None, model_name: str | None = None,
                  users: tuple[int, int] | None = None, trusted: bool = False,
                  progress: bool = True, bf16: bool = False,
                  engine: str = "auto") -> FeatureSet:
    """Extract the features of a dataset store with a model file.

    The preprocessing settings come from the store: the network input is the
    ``input_size`` it records (an ``input_size`` given here must agree), and the result
    records the settings. A model recorded as trained on another canvas or stored size
    than the store's is refused: its features of these images would be meaningless. A
    PyTorch model records its settings in its folder (``preprocessing.json``), an ONNX
    export in its metadata (which also fixes its input size). For a store that records
    nothing (e.g. a published one) the input size is the one given, else the model's,
    else 150 x 220, and the result records no settings.

    ``users`` keeps ``a <= y < b``; ``trusted`` allows unpickling the store's
    ``user_mapping``. ``engine`` is ``auto`` (by the file's content), ``torch`` or
    ``onnx`` (``sigver.deploy.engines``; ``model_name`` and ``bf16`` are PyTorch's).
    The result records the model's identity: the SHA-256 of the PyTorch file (for an
    export, of the file it was exported from).
    """
    from sigver.deploy.engines import open_engine

    model = open_engine(model_path, engine, device=device, model_name=model_name, bf16=bf16)
    settings, crop = extraction_settings(
        data_path, model_path, model.settings, input_size,
        recorded_in=None if model.kind == "torch" else "its metadata")
    x, y, yforg, _, filenames = load_dataset(data_path, trusted=trusted)
    if users is not None:
        x, y, yforg, filenames = select_users((x, y, yforg, filenames), *users)
    features = model.features(x, batch_size=batch_size, input_size=tuple(crop),
                              progress=progress)
    return FeatureSet(features=features, y=np.asarray(y), yforg=np.asarray(yforg),
                      filenames=np.asarray(filenames, dtype=str),
                      model_sha256=model.source_sha256, settings=settings)


def extraction_settings(data_path: str | os.PathLike, model_path: str | os.PathLike,
                        model_settings: PreprocessingSettings | None,
                        input_size: Sequence[int] | None, *, recorded_in: str | None = None
                        ) -> tuple[PreprocessingSettings | None, tuple[int, int]]:
    """The settings an extraction records and the centre crop it feeds the network
    (the rules of ``extract_store``, shared with the Dask version in ``sigver.cluster``).
    """
    stored = read_store_settings(data_path)
    if stored is not None and model_settings is not None:
        check_model_fits(stored, model_settings, data_path, model_path,
                         recorded_in=recorded_in)
    if stored is None:
        fallback = model_settings.input_size if model_settings else DEFAULT_INPUT_SIZE
        return None, tuple(input_size) if input_size is not None else fallback
    settings = resolve_settings(stored, source=f"the dataset store {data_path}",
                                input_size=input_size)
    return settings, settings.input_size


def check_model_fits(stored: PreprocessingSettings, model: PreprocessingSettings,
                     data_path: str | os.PathLike, model_path: str | os.PathLike, *,
                     recorded_in: str | None = None) -> None:
    """Refuse a model trained on images prepared differently from the store's
    (``recorded_in`` names where the model's settings are; default: its folder's
    ``preprocessing.json``)."""
    recorded_in = recorded_in or str(settings_path_for_model(model_path))
    for name, what in (("canvas_size", "canvas"), ("img_size", "stored size")):
        mine, theirs = getattr(stored, name), getattr(model, name)
        if mine != theirs:
            raise SigverError(
                f"{data_path}: its images were prepared with {what} {mine[0]} x {mine[1]}, "
                f"but the model {model_path} was trained on images prepared with {what} "
                f"{theirs[0]} x {theirs[1]} (recorded in {recorded_in}); reprocess the "
                "dataset with the model's settings or use a model trained on these")


if __name__ == "__main__":
    from ..cli import extract, run_main  # relative: the library never imports the CLI

    raise SystemExit(run_main(lambda argv: extract.main(argv, prog=extract.MODULE_PROG)))
