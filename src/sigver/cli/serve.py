"""``sigver serve``: the verification service (HTTP API and web page)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags
from sigver.errors import SigverError

SERVE_PACKAGES = ("fastapi", "uvicorn", "multipart")


def require_serve_extra() -> None:
    """One-line error when the ``serve`` extra is not installed."""
    missing = [name for name in SERVE_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise SigverError(f"the service needs the sigver[serve] extra (missing: "
                          f"{', '.join(missing)}); pip install 'sigver[serve]'")


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver serve``."""
    parser = argparse.ArgumentParser(
        prog="sigver serve",
        description="Serve enrollment and verification over HTTP (API under /api/v1, "
                    "OpenAPI schema at /api/v1/openapi.json) with a web page at /. Every "
                    "API request needs a key from 'sigver keys create'.",
        formatter_class=HelpFormatter)
    parser.add_argument("--db", required=True, help="enrollment database (SQLite)")
    parser.add_argument("--classifier",
                        help="writer-independent classifier file from 'sigver wi fit' "
                        "(default: the built-in one, for the built-in model)")
    parser.add_argument("--background", help="background file from 'sigver background': "
                        "train a writer-dependent SVM for each person with enough "
                        "references")
    parser.add_argument("--model-path", help="feature model (needed for a new database; "
                        "otherwise the database's model)")
    parser.add_argument("--canvas-size", nargs=2, type=int, metavar=("H", "W"),
                        help="canvas of a new database (GPDS's 952 1360 when "
                        "not given)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (each loads the model once)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                        help="where the CNN runs")
    parser.add_argument("--engine", default="auto", choices=("auto", "torch", "onnx"),
                        help="how the CNN runs: PyTorch, or ONNX Runtime for an export of "
                        "'sigver export' given as --model-path (auto: by the file's content)")
    parser.add_argument("--max-upload-mb", type=float, default=10.0,
                        help="size of one uploaded file")
    parser.add_argument("--max-pixels", type=int, default=40_000_000,
                        help="pixels of one image (decompression bombs)")
    parser.add_argument("--max-files", type=int, default=16, help="files per request")
    parser.add_argument("--request-timeout", type=float, default=30.0,
                        help="seconds one request may take")
    parser.add_argument("--max-batch", type=int, default=32,
                        help="images per batched forward pass")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="threads of each forward pass (per worker; PyTorch's or ONNX "
                        "Runtime's)")
    parser.add_argument("--batch-wait-ms", type=float, default=10.0,
                        help="how long a batch waits for requests still preprocessing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver serve``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    require_serve_extra()
    import uvicorn

    from sigver.serve.app import CONFIG_ENV, ServeConfig, create_app
    from sigver.serve.limits import Limits

    if args.workers < 1:
        raise SigverError(f"--workers {args.workers}: at least 1")
    if args.classifier is None:
        print("note: no --classifier: using the built-in writer-independent classifier "
              "(docs/pretrained.md)", file=sys.stderr)
    image_dir = tempfile.mkdtemp(prefix="sigver-serve-")
    config = ServeConfig(
        db=args.db, classifier=args.classifier, background=args.background,
        model_path=args.model_path,
        canvas_size=tuple(args.canvas_size) if args.canvas_size else None,
        device=args.device, max_batch=args.max_batch, max_wait_ms=args.batch_wait_ms,
        image_dir=image_dir, torch_threads=args.torch_threads, engine=args.engine,
        limits=Limits(max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                      max_pixels=args.max_pixels, max_files=args.max_files,
                      request_timeout_s=args.request_timeout))
    try:
        with as_flags(parser):
            # Load everything once here: a bad file is a one-line error before the
            # workers start (each worker then loads its own copy).
            app = create_app(config)
        print(f"sigver serve: {args.db} on http://{args.host}:{args.port}/ "
              f"({args.workers} worker(s)); API keys: 'sigver keys create --db {args.db}'",
              flush=True)
        # The access log shows method, path and status only: never a header, so never
        # a key (keys are not accepted in the query string).
        if args.workers == 1:
            uvicorn.run(app, host=args.host, port=args.port, log_level="info")
        else:
            del app
            os.environ[CONFIG_ENV] = config.to_json()
            uvicorn.run("sigver.serve.app:app_from_environment", factory=True,
                        host=args.host, port=args.port, workers=args.workers,
                        log_level="info")
    finally:
        shutil.rmtree(image_dir, ignore_errors=True)
    return 0
