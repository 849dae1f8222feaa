"""Features of one signature image from a SigNet model file (the published example).

Reads a scan as grayscale uint8 (as ``img_as_ubyte(imread(path, as_gray=True))`` does,
with one-line errors for bad files), normalises it exactly as the model's training data
was (``preprocess_signature`` with the settings recorded beside the model file,
``preprocessing.json``; a model that records none, such as the published weights, gets
the GPDS canvas 952 x 1360 and a centre 150 x 220 crop, with a warning), scales it to
[0, 1] and runs the model file's feature extractor in eval mode. The architecture is
inferred from the file, so SigNet (2048 features), SigNet_thin (1024) and SigNet_smaller
files all work; with a SigNet file this is the same as loading the file's first state dict
into ``SigNet().eval()``.

Usage (from the repository root, after ``make demo``)::

    .venv/bin/python examples/example.py                       # golden scan, demo model
    .venv/bin/python examples/example.py scan.png --model-path signet.pth --canvas 952 1360

(``--canvas`` only for a model that records no settings; it must agree with a recorded
one.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sigver.cli import run_main
from sigver.cli.common import HelpFormatter, one_line_warnings, parameters_as_flags
from sigver.errors import SigverError
from sigver.featurelearning.models import load_model_file
from sigver.imageio import read_signature_image
from sigver.io import atomic_output
from sigver.preprocessing.normalize import preprocess_signature
from sigver.settings import read_model_settings, resolve_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared" / "golden" / "some_signature.png"
# Where `make demo` (sigver demo --out demo-out) leaves its trained model.
DEFAULT_MODEL = ROOT / "demo-out" / "model" / "model_best.pth"


def signature_features(image_path: str | Path, model_path: str | Path,
                       canvas_size: tuple[int, int] | None = None) -> np.ndarray:
    """The feature vector of one signature scan.

    Parameters
    ----------
    image_path
        A signature scan (any format scikit-image reads; colour is converted to gray).
    model_path
        A model file (docs/models-and-training.md: the published 3-tuple of state dicts).
    canvas_size
        The canvas (H, W) of the dataset the model was trained on, for a model that does
        not record it (default then: GPDS's 952 x 1360, with a warning); it must agree
        with a recorded one.

    Returns
    -------
    np.ndarray
        float32 vector of the model's feature size.
    """
    img = read_signature_image(image_path)  # gray uint8; one-line errors for bad files
    settings = resolve_settings(read_model_settings(model_path),
                                source=f"the model folder of {model_path}",
                                canvas_size=canvas_size)
    processed = preprocess_signature(img, settings.canvas_size, settings.img_size,
                                     settings.input_size)
    inputs = torch.from_numpy(processed).view(1, 1, *processed.shape).float().div(255)
    model = load_model_file(model_path)  # in eval mode: batch norm uses running statistics
    with torch.no_grad():
        return model(inputs)[0].numpy()


def main(argv: Sequence[str] | None = None) -> int:
    """Print (and optionally save) the features of one image."""
    parser = argparse.ArgumentParser(
        description="Features of one signature image from a SigNet model file.",
        formatter_class=HelpFormatter)
    parser.add_argument("image", nargs="?", default=str(DEFAULT_IMAGE),
                        help="signature scan")
    parser.add_argument("--model-path", default=str(DEFAULT_MODEL),
                        help="model file (the demo's trained model by default)")
    parser.add_argument("--canvas", nargs=2, type=int, default=None, metavar=("H", "W"),
                        help="canvas size of the preprocessing (default: the one recorded "
                             "beside the model file, else 952 1360 with a warning)")
    parser.add_argument("--out", default=None, help="also save the vector as a .npy file")
    args = parser.parse_args(argv)
    if not Path(args.model_path).is_file():
        hint = " (run 'make demo' first)" if args.model_path == str(DEFAULT_MODEL) else ""
        raise SigverError(f"--model-path {args.model_path}: model file not found{hint}")
    with parameters_as_flags(parser, {"canvas_size": "--canvas"}), one_line_warnings():
        features = signature_features(args.image, args.model_path, args.canvas)
    print(f"{args.image}: {features.shape[0]} features, L2 norm {np.linalg.norm(features):.4f}")
    print("first values:", np.array2string(features[:8], precision=4))
    if args.out:
        with atomic_output(args.out) as tmp, open(tmp, "wb") as handle:
            np.save(handle, features)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
