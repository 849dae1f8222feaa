"""Deployment figures: PyTorch float32 vs ONNX Runtime float32 and int8.

1. Extraction throughput (images/s) of the same images, same batch size and the same
   number of threads, each variant in its own process (its peak RSS; the ONNX ones never
   import torch), the
   variants alternating within each round so that every round is a paired comparison;
   the ratios to PyTorch are given per round and as the median.
2. Model file sizes and the int8 features' distance to float32.
3. Cold start of verifying one file, in a fresh interpreter: open the feature model,
   load the classifier file, preprocess one scan, compute its features and score it
   against 10 references. "torch + skops" is the path before ONNX and the plain
   classifier file; "torch" and "onnx" read the plain classifier file.

    .venv/bin/python benchmarks/extract_onnx.py [--images 256] [--rounds 3] [--model signet]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
SCAN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "a1.png"
CANVAS = (1000, 1500)


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``, MB).

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child spawned by a
    large parent reports the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _torch_rate(path: str, x: np.ndarray, batch_size: int, threads: int
                ) -> tuple[float, np.ndarray, float]:
    import torch

    from sigver.deploy.engines import TorchEngine

    torch.set_num_threads(threads)
    engine = TorchEngine(path, device="cpu")
    n = len(x)
    engine.features(x[:batch_size], batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    features = engine.features(x, batch_size=batch_size)
    return n / (time.perf_counter() - started), features, peak_rss_mb()


def _onnx_rate(path: str, x: np.ndarray, batch_size: int, threads: int
               ) -> tuple[float, np.ndarray, float]:
    """The ONNX variants, in processes that never import torch (this module does not
    at import time), so their peak RSS is their own."""
    from sigver.deploy.engines import OnnxEngine

    engine = OnnxEngine(path, threads=threads, device="cpu")
    n = len(x)
    engine.features(x[:batch_size], batch_size=batch_size)
    started = time.perf_counter()
    features = engine.features(x, batch_size=batch_size)
    return n / (time.perf_counter() - started), features, peak_rss_mb()


COLD = """
import sys, time
started = time.perf_counter()
import numpy as np
from sigver.deploy.engines import open_engine
from sigver.preprocessing.imageio import read_signature_image
from sigver.preprocessing.normalize import preprocess_signature
from sigver.verification.persistence import load_verifier
engine = open_engine({model!r}, {engine!r}, device="cpu")
verifier = load_verifier({classifier!r})
image = preprocess_signature(read_signature_image({scan!r}), {canvas!r}, input_size=None)
fused, _ = verifier.score(engine.features(image[None, None]), np.load({refs!r}))
print(time.perf_counter() - started)
"""


def cold_start(model: Path, engine: str, classifier: Path, refs: Path) -> tuple[float, float]:
    """(wall time of the whole process, time after the interpreter started) in seconds."""
    code = COLD.format(model=str(model), engine=engine, classifier=str(classifier),
                       scan=str(SCAN), canvas=CANVAS, refs=str(refs))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)}, check=True)
    return time.perf_counter() - started, float(out.stdout.strip())


def make_classifiers(folder: Path, model: Path, dim: int) -> tuple[Path, Path, Path]:
    """A fitted WI classifier in the plain format and as a version-1 skops file, and
    10 reference feature vectors."""
    import skops.io as sio

    from sigver.io import file_sha256
    from sigver.verification.persistence import TrainedVerifier, save_verifier
    from sigver.wi.classifier import DichotomyClassifier

    rng = np.random.default_rng(0)
    diffs = np.abs(rng.normal(0, 1, (400, dim)))
    diffs[:200] *= 0.3
    clf = DichotomyClassifier("rbf", gamma=1 / dim).fit(diffs, np.r_[np.ones(200),
                                                                      -np.ones(200)])
    sha = file_sha256(model)
    plain, old = folder / "wi.clf", folder / "wi.skops"
    save_verifier(plain, TrainedVerifier(clf, 0.0, sha, dim))
    sio.dump({"format": "sigver-wi-verifier", "format_version": 1, "classifier": clf,
              "threshold": 0.0, "model_sha256": sha, "feature_dim": dim,
              "operating_point": {}, "training": {}}, old)
    refs = folder / "refs.npy"
    np.save(refs, rng.random((10, dim)).astype(np.float32))
    return plain, old, refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--model", default="signet")
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()

    import torch

    from extract import make_images, run_isolated
    from sigver.datasets.util import save_dataset
    from sigver.deploy.engines import OnnxEngine
    from sigver.deploy.export import export_onnx
    from sigver.featurelearning.models import create_model, save_model_file
    from sigver.settings import PreprocessingSettings, write_model_settings

    work = Path(tempfile.mkdtemp(prefix="sigver-onnx-bench-"))
    torch.manual_seed(0)
    model = work / "model.pth"
    save_model_file(model, create_model(args.model).eval())
    write_model_settings(model, PreprocessingSettings(canvas_size=CANVAS))
    calibration = work / "calibration.npz"
    x = make_images(256, seed=1)
    save_dataset(calibration, x, np.zeros(len(x), int), np.zeros(len(x), int), [0],
                 [str(i) for i in range(len(x))], settings=PreprocessingSettings(CANVAS))
    fp32 = export_onnx(model, work / "model.onnx")
    int8 = export_onnx(model, work / "model.int8.onnx", int8=True,
                       calibration_data=calibration)

    images = make_images(args.images)
    variants = {"torch float32": (_torch_rate, model), "onnx float32": (_onnx_rate, fp32.path),
                "onnx int8": (_onnx_rate, int8.path)}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, float] = {}
    features: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, (fn, path) in variants.items():
            (rate, feats, peak), _ = run_isolated(fn, str(path), images, args.batch_size,
                                                  args.threads)
            rates[name].append(rate)
            peaks[name] = max(peaks.get(name, 0.0), peak)
            features[name] = feats
    base = np.array(rates["torch float32"])
    print(f"extraction, {args.model}, {args.images} images, batch {args.batch_size}, "
          f"{args.threads} threads, {args.rounds} paired rounds (median; ratios per round)")
    reference = features["torch float32"]
    for name in variants:
        ratios = np.array(rates[name]) / base
        error = np.abs(features[name] - reference).max()
        cosine = np.min(np.sum(features[name] * reference, 1) / np.linalg.norm(
            features[name], axis=1) / np.linalg.norm(reference, axis=1))
        print(f"  {name:<14} {np.median(rates[name]):8.1f} images/s   x{np.median(ratios):.2f} "
              f"({', '.join(f'{r:.2f}' for r in ratios)})   peak RSS {peaks[name]:6.0f} MB   "
              f"max |diff| {error:.1e} (cosine >= {cosine:.5f})")
    print("model files:")
    for label, path in (("PyTorch", model), ("ONNX float32", fp32.path),
                        ("ONNX int8", int8.path)):
        print(f"  {label:<14} {path.stat().st_size / 1e6:7.1f} MB")

    dim = OnnxEngine(fp32.path).feature_dim
    plain, old, refs = make_classifiers(work, model, dim)
    print(f"cold start, verify one file ({SCAN.name}), fresh interpreter, best of "
          f"{args.cold_runs} (whole process / after interpreter start):")
    for label, path, engine, classifier in (
            ("torch + skops", model, "torch", old), ("torch", model, "torch", plain),
            ("onnx float32", fp32.path, "onnx", plain),
            ("onnx int8", int8.path, "onnx", plain)):
        times = [cold_start(path, engine, classifier, refs) for _ in range(args.cold_runs)]
        total, inner = min(times)
        print(f"  {label:<14} {total:5.2f} s   ({inner:.2f} s)")


if __name__ == "__main__":
    main()
