"""Preprocessing throughput: the fast path against the step-by-step reference, per process
and with process_dataset's worker pool.

    .venv/bin/python benchmarks/preprocess.py [--repeats 5] [--workers 1 2] [--images 240]

Per process: images/s of the reference (tests/helpers/reference_preprocessing.py) and of
``sigver.preprocessing.normalize.preprocess_signature`` on the same images, measured
interleaved in one run, in wall time and in CPU time of this process (the steadier figure
on a shared machine), their ratio, the peak memory of one call (the fast path's buffers
included), and the median over the repeats of the CPU-time ratio measured within each
repeat (paired: the steadiest figure when other jobs share the machine). Two sets of
real scans: the five of tests/golden at the GPDS, CEDAR and MCYT canvases, and a sample
of the dataset scans of ../shared/data (SigComp2011 Dutch and BHSig260) at the GPDS
canvas. Every output is checked byte-identical to the reference's. Then where the fast
path spends its time (three profiled passes over the golden scans at the GPDS canvas).

Workers: ``process_dataset``'s worker pool the way it runs, on --images distinct files of
../shared/data: file paths go out (in chunks that shrink as the work runs out,
``LOCAL_BATCH``), each worker reads, decodes and normalises its own files, and the stored
170 x 242 images come back (the box of their non-zero pixels). The worker counts take
turns within each of --repeats / 2 rounds, so that a drift of the machine's speed hits
them alike. images/s for each worker count (1 runs in this process), the best of the
rounds and its speed-up over 1 worker's best, the median of the speed-ups within each
round (paired), the CPU time per image in the workers, the share of the run's wall time
the workers spent normalising (1.0: never waiting for work) and the CPU time of this
process (the pool's overhead, readable whatever the load), the load average at the first
and last run of each count; the images are checked identical for every run.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import pstats
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

from sigver.imageio import read_signature_image
from sigver.parallel import parallel_map, resolve_workers
from sigver.preprocessing.normalize import preprocess_signature
from sigver.preprocessing.process_dataset import LOCAL_BATCH, _process_one, _unpack

ROOT = Path(__file__).resolve().parents[1]
CANVASES = {"GPDS": (952, 1360), "CEDAR": (730, 1042), "MCYT": (600, 850)}
STORED = (170, 242)


def load_reference():
    """The step-by-step implementation kept in the tests."""
    spec = importlib.util.spec_from_file_location(
        "reference_preprocessing", ROOT / "tests" / "helpers" / "reference_preprocessing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.preprocess_signature


def dataset_scans(data: Path, count: int) -> list[Path]:
    """``count`` scans spread evenly over the sorted files of both datasets."""
    files = sorted(p for folder in ("sigcomp2011-dutch", "bhsig260-sample")
                   for p in (data / folder).rglob("*")
                   if p.suffix.lower() in (".png", ".tif", ".tiff"))
    if not files:
        return []
    picks = np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int)
    return [files[i] for i in np.unique(picks)]


def rates(fn, images, canvas):
    """(images/s by wall clock, images/s by process CPU time) for one pass."""
    wall, cpu = time.perf_counter(), time.process_time()
    for img in images:
        fn(img, canvas)
    return (len(images) / (time.perf_counter() - wall),
            len(images) / (time.process_time() - cpu))


def peak_mib(fn, img, canvas):
    """Peak traced memory of one call, in a new thread: the fast path's per-thread
    buffers are allocated (and counted) anew."""
    tracemalloc.start()
    worker = threading.Thread(target=fn, args=(img, canvas))
    worker.start()
    worker.join()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def compare(name, images, canvas, reference, repeats):
    """One row: the reference and the fast path on ``images`` at ``canvas``."""
    for img in images:  # identical output, checked once per image and canvas
        if not np.array_equal(reference(img, canvas), preprocess_signature(img, canvas)):
            raise SystemExit(f"{name}: the fast path's output differs from the reference")
    best = {"ref": (0.0, 0.0), "fast": (0.0, 0.0)}
    paired = []
    for _ in range(repeats):
        cpu_rates = {}
        for key, fn in (("ref", reference), ("fast", preprocess_signature)):
            wall, cpu = rates(fn, images, canvas)
            best[key] = (max(best[key][0], wall), max(best[key][1], cpu))
            cpu_rates[key] = cpu
        paired.append(cpu_rates["fast"] / cpu_rates["ref"])
    peaks = [peak_mib(fn, images[0], canvas) for fn in (reference, preprocess_signature)]
    ref, fast = best["ref"], best["fast"]
    print(f"{name:<24} {ref[0]:7.1f} (cpu {ref[1]:5.1f}) {fast[0]:7.1f} (cpu {fast[1]:5.1f}) "
          f"{fast[0] / ref[0]:5.2f} ({fast[1] / ref[1]:4.2f}) "
          f"{peaks[0]:8.1f} / {peaks[1]:5.1f} {np.median(paired):17.2f}   load {_load()}",
          flush=True)


def profile(images, canvas):
    """Share of the fast path's time per function (three profiled passes)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        for img in images:
            preprocess_signature(img, canvas, STORED, None)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(entry[2] for entry in stats.values())  # internal time of every function
    shares = sorted(((entry[2] / total, f"{Path(key[0]).name}:{key[2]}")
                     for key, entry in stats.items()), reverse=True)
    print("where the fast path spends its time (golden scans, GPDS canvas; share of the "
          "profiled time, profiler overhead included):")
    for share, name in shares[:6]:
        print(f"  {share:6.1%}  {name}")


def timed_task(task):
    """``_process_one``, and the CPU and wall time it took in the worker."""
    cpu, wall = time.process_time(), time.perf_counter()
    image, note = _process_one(task)
    return image, note, time.process_time() - cpu, time.perf_counter() - wall


def workers_table(files, counts, repeats):
    tasks = [(str(path), CANVASES["GPDS"], STORED, False, False) for path in files]
    print(f"process_dataset's workers at the GPDS canvas (read, decode, normalise), "
          f"{len(tasks)} images, {resolve_workers(None)} cores available; the counts "
          "interleaved over the repeats; CPU ms per image in the workers and CPU s of this "
          "process show the pool's overhead whatever the load:", flush=True)
    for workers in counts:  # start-up: the pools and their imports
        parallel_map(timed_task, tasks[:workers * 4], workers=workers, progress=False,
                     batch_size=1)
    runs = {workers: [] for workers in counts}
    first = None
    for _ in range(max(1, repeats // 2)):
        # Every count in each repeat: a drift of the machine's speed (other jobs, other
        # tenants of the host) hits all of them alike.
        for workers in counts:
            before = _load()
            start, cpu = time.perf_counter(), time.process_time()
            results = parallel_map(timed_task, tasks, workers=workers, progress=False,
                                   batch_size=LOCAL_BATCH)
            wall = time.perf_counter() - start
            runs[workers].append({
                "rate": len(tasks) / wall, "main": time.process_time() - cpu,
                "cpu": sum(r[2] for r in results) / len(tasks),
                "busy": sum(r[3] for r in results) / (workers * wall),
                "load": (before, _load())})
            images = np.stack([_unpack(result[0], np.empty(STORED, np.uint8))
                               for result in results])
            if first is None:
                first = images
            elif not np.array_equal(images, first):
                raise SystemExit(f"workers {workers}: the images differ from the first run's")
    base = runs[counts[0]]
    base_best = max(run["rate"] for run in base)
    for workers in counts:
        mine = runs[workers]
        best = max(run["rate"] for run in mine)
        paired = np.median([run["rate"] / ref["rate"] for run, ref in zip(mine, base,
                                                                       strict=True)])
        print(f"  workers {workers:>2}: {best:7.1f} img/s  (x{best / base_best:4.2f}, "
              f"paired x{paired:4.2f})  CPU {1e3 * min(r['cpu'] for r in mine):5.1f} ms/img "
              f"in the workers, busy {max(r['busy'] for r in mine):5.3f}, "
              f"{min(r['main'] for r in mine):5.2f} s in this process  "
              f"load {mine[0]['load'][0]} -> {mine[-1]['load'][1]}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"),
                        help="the folder of the dataset scans (../shared/data)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=40,
                        help="dataset scans in the per-process comparison")
    parser.add_argument("--images", type=int, default=240,
                        help="distinct files the worker pool processes (200+)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    golden = sorted((ROOT / "tests" / "golden").glob("*.png"))
    images = [read_signature_image(p) for p in golden]
    reference = load_reference()
    warnings.simplefilter("ignore", UserWarning)  # scans larger than the small canvases
    print(f"{len(images)} golden scans, "
          f"{', '.join(f'{i.shape[0]}x{i.shape[1]}' for i in images)}; load average {_load()}")
    print(f"{'images, canvas':<24} {'reference img/s':>17} {'fast img/s':>17} {'ratio':>12} "
          f"{'peak MiB ref/fast':>18} {'paired cpu ratio':>17}")
    for name, canvas in CANVASES.items():
        compare(f"golden {name} {canvas[0]}x{canvas[1]}", images, canvas, reference,
                args.repeats)
    data = Path(args.data)
    sample = dataset_scans(data, args.sample)
    if sample:
        scans = [read_signature_image(p) for p in sample]
        usable = [img for img in scans if _published_finds_ink(reference, img)]
        if len(usable) < len(scans):
            print(f"  ({len(scans) - len(usable)} of the {len(scans)} dataset scans left out: "
                  "bilevel, the published ink rule finds nothing; docs/preprocessing.md)")
        compare(f"{len(usable)} dataset GPDS", usable, CANVASES["GPDS"], reference,
                args.repeats)
    else:
        print(f"no dataset scans under {data}: dataset rows and worker files skipped")
    profile(images, CANVASES["GPDS"])
    files = dataset_scans(data, args.images)
    if len(files) < args.images:  # no dataset: the golden scans, repeated
        files = (golden * (args.images // len(golden) + 1))[:args.images]
        print("workers on the golden scans repeated (no dataset scans)")
    workers_table(files, args.workers, args.repeats)
    print(f"load average {_load()}")
    return 0


def _published_finds_ink(reference, img) -> bool:
    try:
        reference(img, CANVASES["GPDS"])
    except ValueError:
        return False
    return True


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
