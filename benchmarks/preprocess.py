"""Preprocessing throughput: the fast path against the step-by-step reference.

    .venv/bin/python benchmarks/preprocess.py [--repeats 5] [--workers 1 2 4]

Prints, per canvas (GPDS first), images/s of the reference
(tests/helpers/reference_preprocessing.py) and of ``sigver.preprocessing.normalize`` in
one process, both in wall time and in CPU time of this process (the steadier figure on a
shared machine), their ratio, and the peak memory of one call, and the median over the
repeats of the CPU-time ratio measured within each repeat (paired: the steadiest figure
when other jobs share the machine); then the throughput of ``process_dataset``'s worker
pool for each worker count, the way it runs: file paths go out, each worker reads,
decodes and normalises its files, and the stored 170 x 242 images come back. Inputs: the
real scans of ../shared/golden. Fast and reference are measured interleaved in the same
run; take the best of the repeats. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from sigver.imageio import read_signature_image
from sigver.parallel import parallel_map, resolve_workers
from sigver.preprocessing.normalize import preprocess_signature
from sigver.preprocessing.process_dataset import _process_one

ROOT = Path(__file__).resolve().parents[1]
CANVASES = {"GPDS": (952, 1360), "CEDAR": (730, 1042), "MCYT": (600, 850)}


def load_reference():
    """The step-by-step implementation kept in the tests."""
    spec = importlib.util.spec_from_file_location(
        "reference_preprocessing", ROOT / "tests" / "helpers" / "reference_preprocessing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.preprocess_signature


def rates(fn, images, canvas):
    """(images/s by wall clock, images/s by process CPU time) for one pass."""
    wall, cpu = time.perf_counter(), time.process_time()
    for img in images:
        fn(img, canvas)
    return (len(images) / (time.perf_counter() - wall),
            len(images) / (time.process_time() - cpu))


def peak_mib(fn, img, canvas):
    tracemalloc.start()
    fn(img, canvas)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"),
                        help="the shared folder holding golden/")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+")
    args = parser.parse_args()
    scans = sorted((Path(args.shared) / "golden").glob("*.png"))
    if not scans:
        print(f"no scans under {args.shared}/golden", file=sys.stderr)
        return 2
    images = [read_signature_image(p) for p in scans]
    reference = load_reference()
    warnings.simplefilter("ignore", UserWarning)  # scans larger than the small canvases
    print(f"{len(images)} real scans, {', '.join(f'{i.shape[0]}x{i.shape[1]}' for i in images)}"
          f"; load average {_load()}")
    print(f"{'canvas':<16} {'reference img/s':>17} {'fast img/s':>17} {'ratio':>12} "
          f"{'peak MiB ref/fast':>18} {'paired cpu ratio':>17}")
    for name, canvas in CANVASES.items():
        for img in images:  # identical output, checked once per canvas
            assert np.array_equal(reference(img, canvas), preprocess_signature(img, canvas))
        best = {"ref": (0.0, 0.0), "fast": (0.0, 0.0)}
        paired = []
        for _ in range(args.repeats):
            cpu_rates = {}
            for key, fn in (("ref", reference), ("fast", preprocess_signature)):
                wall, cpu = rates(fn, images, canvas)
                best[key] = (max(best[key][0], wall), max(best[key][1], cpu))
                cpu_rates[key] = cpu
            paired.append(cpu_rates["fast"] / cpu_rates["ref"])
        peaks = [peak_mib(fn, images[0], canvas) for fn in (reference, preprocess_signature)]
        ref, fast = best["ref"], best["fast"]
        print(f"{name + ' ' + 'x'.join(map(str, canvas)):<16} "
              f"{ref[0]:7.1f} (cpu {ref[1]:5.1f}) {fast[0]:7.1f} (cpu {fast[1]:5.1f}) "
              f"{fast[0] / ref[0]:5.2f} ({fast[1] / ref[1]:4.2f}) "
              f"{peaks[0]:8.1f} / {peaks[1]:5.1f} {np.median(paired):17.2f}")
    cores = resolve_workers(None)
    counts = args.workers or sorted({1, 2, cores})
    # Enough images that the pool start-up and the first batches do not dominate; the
    # tasks of process_dataset: a path out, a stored-size image back.
    tasks = [(str(path), CANVASES["GPDS"], (170, 242), False, False)
             for path in scans] * max(40, 20 * max(counts))
    print(f"process_dataset's workers at the GPDS canvas (read, decode, normalise), "
          f"{len(tasks)} images, {cores} cores available:")
    base = None
    for workers in counts:
        parallel_map(_process_one, tasks[:workers * 2], workers=workers,
                     progress=False)  # start-up
        best = 0.0
        for _ in range(max(1, args.repeats // 2)):
            start = time.perf_counter()
            parallel_map(_process_one, tasks, workers=workers, progress=False)
            best = max(best, len(tasks) / (time.perf_counter() - start))
        base = base or best
        print(f"  workers {workers:>2}: {best:7.1f} img/s  (x{best / base:4.2f})")
    print(f"load average {_load()}")
    return 0


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
