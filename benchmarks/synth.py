"""Speed of the synthetic signature generator (target: >= 100 raw images/s per core).

Prints, for one process (one core, counted in CPU time so that other load on the
machine does not distort it): raw scans drawn per second (genuine and skilled
forgeries, default sizes), the mean scan size, the time of the real preprocessing of
the same scans for comparison, the throughput of ``synthesize`` with 1 and N workers, and
the peak resident memory.

    .venv/bin/python benchmarks/synth.py [--writers 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from sigver.preprocessing.normalize import preprocess_signature
from sigver.synthetic.generate import CANVAS, draw_genuine, draw_skilled, draw_writer, synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--samples", type=int, default=5, help="genuine and skilled each")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seed = 11
    # Warm the per-process caches (writer styles, forgers, the paper grain) first: a
    # worker drawing a dataset pays for them once.
    for w in range(args.writers):
        draw_writer(seed, w)
        draw_skilled(seed, w, 0)
    # CPU time of this process: the machine is shared, and "per core" is what counts.
    start = time.process_time()
    scans = [draw_genuine(seed, w, i) for w in range(args.writers)
             for i in range(1, args.samples + 1)]
    genuine_s = time.process_time() - start
    start = time.process_time()
    scans += [draw_skilled(seed, w, i) for w in range(args.writers)
              for i in range(1, args.samples + 1)]
    skilled_s = time.process_time() - start
    n = args.writers * args.samples
    pixels = np.mean([s.size for s in scans])
    heights = [s.shape[0] for s in scans]
    widths = [s.shape[1] for s in scans]
    print(f"raw scans per CPU-second of one process: genuine {n / genuine_s:.0f} images/s, skilled "
          f"{n / skilled_s:.0f} images/s, all {2 * n / (genuine_s + skilled_s):.0f} images/s")
    print(f"scan size: mean {pixels / 1e3:.0f} kpixels, height {min(heights)}..{max(heights)}, "
          f"width {min(widths)}..{max(widths)}")
    start = time.process_time()
    for scan in scans[:40]:
        preprocess_signature(scan, CANVAS, input_size=None)
    prep = (time.process_time() - start) / min(40, len(scans))
    print(f"preprocessing (preprocess_signature) of the same scans: {1 / prep:.0f} images/s "
          f"(drawing is {prep / ((genuine_s + skilled_s) / (2 * n)):.1f}x faster)")
    for workers in (1, args.workers):
        start = time.perf_counter()
        synthesize(args.writers, 3, 3, seed=seed + 1, workers=workers, progress=False)
        elapsed = time.perf_counter() - start
        print(f"synthesize (draw + preprocess) with {workers} worker(s): "
              f"{args.writers * 6 / elapsed:.1f} images/s wall-clock")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
