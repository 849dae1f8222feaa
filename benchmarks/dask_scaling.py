"""Dask scale-out: preprocessing and a writer-dependent fold on 1 and on N Dask workers.

    .venv/bin/python benchmarks/dask_scaling.py [--workers 1 2] [--images 200] [--repeats 3]

Starts a ``dask.distributed.LocalCluster`` of one-thread worker processes for each worker
count and times, through ``scheduler=`` / ``use_scheduler`` (what ``--scheduler`` does):

* ``process_dataset`` of a gpds-layout folder of ``--images`` files (links to the real
  scans of ../shared/golden, at the GPDS canvas): paths go out, 170 x 242 images come
  back;
* one WD fold (``sigver.wd.run``, fast and exact methods) on synthetic 2048-d features of
  ``--users`` users.

Each stage runs once to warm the workers up (imports, caches), then ``--repeats`` times;
the best time counts. Prints the time per worker count, the speed-up over one worker
and the efficiency (speed-up / workers), with the load average before and after: the
figures are only as good as the cores are free. Also checks that every run gives the
local run's output.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sigver.cluster import use_scheduler
from sigver.datasets.util import read_store
from sigver.preprocessing.process_dataset import process_dataset
from sigver.synthetic.features import make_features
from sigver.wd import run as run_wd

ROOT = Path(__file__).resolve().parents[1]
GPDS_CANVAS = (952, 1360)


def gpds_tree(scans: list[Path], root: Path, images: int) -> Path:
    """A gpds-layout folder of ``images`` links to ``scans`` (24 per user)."""
    for i in range(images):
        user, index = divmod(i, 24)
        folder = root / f"{user + 1:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"c-{user + 1:03d}-{index + 1:02d}.png").symlink_to(scans[i % len(scans)])
    return root


def best_time(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up: worker imports, caches
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"),
                        help="the shared folder holding golden/")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="Dask worker counts (one thread each)")
    parser.add_argument("--images", type=int, default=200, help="images to preprocess")
    parser.add_argument("--users", type=int, default=300, help="users of the WD features")
    parser.add_argument("--exp-users", type=int, default=100,
                        help="exploitation users of the WD fold")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import dask
    from distributed import Client, LocalCluster

    # Workers as docs/dask.md recommends: glibc's own malloc trimming (Dask's nanny sets a
    # fixed threshold, which maps every large array afresh: the image code runs ~1.5x
    # slower).
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})

    scans = sorted((Path(args.shared) / "golden").glob("*.png"))
    if not scans:
        print(f"no scans under {args.shared}/golden", file=sys.stderr)
        return 2
    features = make_features(args.users, 24, 10, dim=2048, seed=0)
    wd_kwargs = {"exp_users": (0, args.exp_users), "dev_users": (args.exp_users, args.users),
                 "folds": 1}
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tree = gpds_tree(scans, Path(tmp) / "gpds", args.images)

        def preprocess(scheduler, name):
            out = Path(tmp) / f"{name}.npz"
            process_dataset("gpds", tree, out, canvas_size=GPDS_CANVAS, workers=1,
                            progress=False, scheduler=scheduler)
            return read_store(out)["x"]

        stages = {"preprocess": lambda client: preprocess(client, "dask")}
        for method in ("fast", "exact"):
            stages[f"WD fold ({method})"] = (
                lambda client, method=method: _wd(features, client, method, wd_kwargs))
        reference = {"preprocess": preprocess(None, "local")}
        for method in ("fast", "exact"):
            reference[f"WD fold ({method})"] = _wd(features, None, method, wd_kwargs)
        times: dict[str, dict[int, float]] = {name: {} for name in stages}
        for workers in args.workers:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                for name, stage in stages.items():
                    seconds, result = best_time(lambda stage=stage: stage(client), args.repeats)
                    _check_same(reference[name], result, name)
                    times[name][workers] = seconds
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    base = args.workers[0]
    print(f"{'stage':<20} {'workers':>7} {'seconds':>8} {'speed-up':>9} {'efficiency':>10}")
    for name, by_workers in times.items():
        for workers, seconds in by_workers.items():
            speedup = by_workers[base] / seconds
            print(f"{name:<20} {workers:>7} {seconds:8.2f} {speedup:9.2f} "
                  f"{speedup / (workers / base):10.2f}")
    print(f"({args.images} images at the GPDS canvas; WD: {args.exp_users} exploitation and "
          f"{args.users - args.exp_users} development users, 2048-d; outputs equal the "
          "local run's)")
    return 0


def _wd(features, client, method, kwargs):
    with use_scheduler(client):
        result = run_wd(features, method=method, jobs=0, **kwargs)
    return result.to_published()


def _check_same(expected, got, name) -> None:
    if isinstance(expected, np.ndarray):
        ok = np.array_equal(expected, got)
    else:
        ok = all(np.array_equal(a["all_metrics"]["EER"], b["all_metrics"]["EER"])
                 and all(np.array_equal(x, y) for key in a["predictions"]
                         for x, y in zip(a["predictions"][key], b["predictions"][key],
                                         strict=True))
                 for a, b in zip(expected, got, strict=True))
    if not ok:
        raise SystemExit(f"{name}: the Dask run's output differs from the local run's")


if __name__ == "__main__":
    raise SystemExit(main())
