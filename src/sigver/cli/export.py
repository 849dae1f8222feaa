"""``sigver export``: a SigNet model file as an ONNX file (float32, or int8 with
``--int8 --calibration-data STORE``) for ONNX Runtime and other ONNX consumers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags

ALIASES = {"model_name": "--model", "settings": "--canvas-size"}


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver export``."""
    parser = argparse.ArgumentParser(
        prog="sigver export",
        description="Export a SigNet-family model file (published ones included) to ONNX: "
                    "input uint8 N x 1 x H x W (the centre crop of preprocessed "
                    "signatures), output float32 N x D features; the preprocessing "
                    "settings and the source model's SHA-256 travel in the metadata. "
                    "Needs sigver[onnx].",
        formatter_class=HelpFormatter)
    parser.add_argument("--model-path", required=True, help="PyTorch model file to export")
    parser.add_argument("--out", required=True, help="ONNX file to write (.onnx)")
    parser.add_argument("--model", default=None,
                        choices=("signet", "signet_thin", "signet_smaller"),
                        help="architecture; inferred from the weights when omitted")
    parser.add_argument("--int8", action="store_true",
                        help="quantize statically to 8 bits (needs --calibration-data)")
    parser.add_argument("--calibration-data", default=None,
                        help="dataset store preprocessed like the model's data, to measure "
                             "the int8 activation ranges on")
    parser.add_argument("--calibration-images", type=int, default=256,
                        help="images of --calibration-data used, spread over the store")
    for flag, what in (("--canvas-size", "canvas"), ("--img-size", "stored image size"),
                       ("--input-size", "network input size")):
        parser.add_argument(flag, nargs=2, type=int, default=None, metavar=("H", "W"),
                            help=f"{what} to record when the model folder records none "
                                 "(preprocessing.json); must match a recorded one")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver export``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from sigver.deploy.export import export_onnx
    from sigver.settings import read_model_settings, resolve_settings

    with as_flags(parser, ALIASES):
        settings = None
        if args.canvas_size or args.img_size or args.input_size:
            settings = resolve_settings(
                read_model_settings(args.model_path),
                source=f"model folder of {args.model_path}", canvas_size=args.canvas_size,
                img_size=args.img_size, input_size=args.input_size)
        result = export_onnx(args.model_path, args.out, model_name=args.model,
                             settings=settings, int8=args.int8,
                             calibration_data=args.calibration_data,
                             calibration_images=args.calibration_images)
    print(result.summary())
    return 0
