"""Data-parallel training throughput: 1 process against N torchrun ranks (DDP, gloo on CPU).

Each variant trains the first task (``sigver train --task signet``) for two epochs on a
drawn store, in its own process group, and reports the images/s of the second epoch (the
first includes oneDNN generating kernels); a torchrun run's figure is the whole job's
(the images of all ranks over the slowest rank's time). The variants:

- ``1 process x T threads``: plain ``sigver train`` (T = ``--threads``, default: the
  machine's cores), what a user runs without torchrun;
- ``1 process x 1 thread`` and ``R ranks x 1 thread``: the scaling of DDP with the
  workers it adds (torchrun's default of one thread per rank on the CPU).

Speed-up = images/s of R ranks / images/s of one 1-thread process; efficiency =
speed-up / R. On a machine with R idle cores or more this is DDP's parallel efficiency;
on a GPU cluster run it with ``--device cuda`` and R = GPUs. Each process also records
the CPU time of its training epochs, which other jobs on the machine barely change: the
CPU-seconds per image of R ranks against one process give the work DDP adds
(communication, the extra processes), an efficiency that waits (one rank waiting for
another) do not lower. Runs alternate over ``--repeats``
rounds; a shared machine's speed varies from run to run (other jobs take its cores), so
both the median and the best run (the nearest to an idle machine) are given, with the
efficiency of each, and the load average before and after.

    .venv/bin/python benchmarks/train_ddp.py [--ranks 2] [--users 8] [--per-user 24]
        [--batch-size 32] [--model signet] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from extract import make_images
from sigver.datasets.util import save_dataset


def worker(report: str, flags: list[str]) -> None:
    """One process of a variant: ``sigver train`` with the CPU time of each training
    epoch (``EpochLoop._epoch``) written to ``report``.RANK.json."""
    from sigver.cli.train import main as train_main
    from sigver.featurelearning.loop import EpochLoop

    cpu_seconds = []
    epoch = EpochLoop._epoch

    def timed(self, *args, **kwargs):
        started = time.process_time()
        record = epoch(self, *args, **kwargs)
        cpu_seconds.append(time.process_time() - started)
        return record

    EpochLoop._epoch = timed
    train_main(flags)
    Path(f"{report}.{os.environ.get('RANK', '0')}.json").write_text(json.dumps(cpu_seconds))


def run_variant(store: str, *, ranks: int, threads: int, args: argparse.Namespace
                ) -> tuple[float, float]:
    """Second-epoch images/s of one training run, and its CPU-seconds per image (all
    ranks together)."""
    with tempfile.TemporaryDirectory() as logdir:
        flags = ["--dataset-path", store, "--logdir", logdir, "--task", "signet",
                 "--users", "0", str(args.users), "--epochs", "2",
                 "--batch-size", str(args.batch_size), "--model", args.model,
                 "--device", args.device, "--no-progress"]
        report = str(Path(logdir).parent / f"{Path(logdir).name}-cpu")
        script = [__file__, "--worker", report, "--", *flags]
        if ranks == 1:
            command = [sys.executable, *script]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node", str(ranks), *script]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        last = json.loads((Path(logdir) / "history.json").read_text())[-1]
        cpu = 0.0
        for rank in range(ranks):
            path = Path(f"{report}.{rank}.json")
            cpu += json.loads(path.read_text())[-1]
            path.unlink()
    images = last["images_per_s"] * last["seconds"]
    return last["images_per_s"], cpu / images


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--per-user", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="signet")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.users * args.per_user
    variants = {f"1 process x {args.threads} threads": (1, args.threads),
                "1 process x 1 thread": (1, 1),
                f"{args.ranks} ranks x 1 thread": (args.ranks, 1)}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "bench.npz")
        save_dataset(store, make_images(n), np.repeat(np.arange(args.users), args.per_user),
                     np.zeros(n, int), list(range(args.users)), [f"img{i}" for i in range(n)])
        for round_ in range(args.repeats):
            for name in sorted(variants, reverse=round_ % 2 == 1):
                ranks, threads = variants[name]
                rate, cpu_per_image = run_variant(store, ranks=ranks, threads=threads,
                                                  args=args)
                rates[name].append(rate)
                cpu[name].append(cpu_per_image)
    print(f"first-task training, {args.model}, {n} images, global batch {args.batch_size}, "
          f"{args.device}, {os.cpu_count()} cores, {args.repeats} runs each (second epoch), "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for name, values in rates.items():
        print(f"  {name:<24} median {np.median(values):6.1f}  best {max(values):6.1f} "
              f"images/s   (runs: {', '.join(f'{v:.1f}' for v in values)})")
    threaded_name = f"1 process x {args.threads} threads"
    for label, pick in (("median", np.median), ("best", max)):
        single = pick(rates["1 process x 1 thread"])
        multi = pick(rates[f"{args.ranks} ranks x 1 thread"])
        speedup = multi / single
        print(f"  {label}: speed-up {args.ranks} ranks / 1 rank (1 thread each) "
              f"{speedup:.2f}x, efficiency {speedup / args.ranks:.0%}; {args.ranks} ranks / "
              f"{threaded_name} {multi / pick(rates[threaded_name]):.2f}x")
    for name, values in cpu.items():
        print(f"  {name:<24} {1000 * np.median(values):6.1f} CPU-ms per image (median)")
    one = np.median(cpu["1 process x 1 thread"])
    many = np.median(cpu[f"{args.ranks} ranks x 1 thread"])
    print(f"  CPU time per image, {args.ranks} ranks / 1 rank: {many / one:.2f}x "
          f"(efficiency without waits {one / many:.0%})")


if __name__ == "__main__":
    main()
