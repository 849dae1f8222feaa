"""Feature extraction (SPEC section 6) and the ``sigver extract`` command.

Features are computed once per dataset and model and saved with ``y``, ``yforg``,
``filenames`` and the model file's SHA-256, so every writer-dependent / writer-independent
experiment can reuse them without the CNN.
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from tqdm.auto import tqdm

from sigver.cli import run_main
from sigver.datasets.util import load_dataset, select_users
from sigver.errors import SigverError
from sigver.featurelearning.data import (
    center_crop_batch,
    check_crop,
    fast_layout,
    resolve_device,
    to_network_input,
)
from sigver.featurelearning.models import available_models, load_model_file
from sigver.features import FeatureSet, save_features
from sigver.io import file_sha256


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
    if x.ndim != 4 or x.shape[1] != 1:
        raise SigverError(f"images must be N x 1 x H x W, got shape {tuple(x.shape)}")
    if batch_size < 1:
        raise SigverError(f"--batch-size must be >= 1, got {batch_size}")
    check_crop(x.shape[-2:], input_size)
    device = resolve_device(device)
    net = fast_layout(fold_batch_norm(model).to(device))
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
                  input_size: tuple[int, int] = (150, 220), model_name: str | None = None,
                  users: tuple[int, int] | None = None, trusted: bool = False,
                  progress: bool = True, bf16: bool = False) -> FeatureSet:
    """Extract the features of a dataset store with a model file.

    ``users`` keeps ``a <= y < b`` (the ``--users`` flag); ``trusted`` allows unpickling
    the store's ``user_mapping``. The result records the model file's SHA-256.
    """
    model = load_model_file(model_path, model_name)
    x, y, yforg, _, filenames = load_dataset(data_path, trusted=trusted)
    if users is not None:
        x, y, yforg, filenames = select_users((x, y, yforg, filenames), *users)
    features = extract_features(model, x, batch_size=batch_size, device=device,
                                input_size=input_size, progress=progress, bf16=bf16)
    return FeatureSet(features=features, y=np.asarray(y), yforg=np.asarray(yforg),
                      filenames=np.asarray(filenames, dtype=str),
                      model_sha256=file_sha256(model_path))


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver extract`` / ``python -m sigver.featurelearning.extract``."""
    parser = argparse.ArgumentParser(
        prog="sigver extract",
        description="Extract CNN features of a dataset store into a feature file "
                    "(float32 features with y, yforg, filenames and the model's SHA-256).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-path", required=True, help="model file (SPEC section 4)")
    parser.add_argument("--data-path", required=True, help="dataset store (.npz or folder)")
    parser.add_argument("--out", required=True, help="feature file to write (.npz)")
    parser.add_argument("--model", choices=sorted(available_models), default=None,
                        help="architecture; inferred from the file when omitted")
    parser.add_argument("--users", nargs=2, type=int, default=None, metavar=("A", "B"),
                        help="only users A <= y < B")
    parser.add_argument("--input-size", nargs=2, type=int, default=[150, 220],
                        metavar=("H", "W"), help="centre crop fed to the network")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast (faster where supported; slightly different "
                             "features)")
    parser.add_argument("--trust-pickles", action="store_true",
                        help="unpickle the store's user_mapping (only for files you trust)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver extract``."""
    args = build_parser().parse_args(argv)
    if not str(args.out).lower().endswith(".npz"):
        raise SigverError(f"--out {args.out}: feature files are .npz files")
    feature_set = extract_store(
        args.model_path, args.data_path, batch_size=args.batch_size, device=args.device,
        input_size=tuple(args.input_size), model_name=args.model,
        users=tuple(args.users) if args.users else None, trusted=args.trust_pickles,
        progress=not args.no_progress, bf16=args.bf16)
    save_features(args.out, feature_set)
    print(f"wrote {args.out}: {feature_set.features.shape[0]} x "
          f"{feature_set.features.shape[1]} features")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
