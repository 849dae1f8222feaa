"""Train the built-in model (``sigver.pretrained``) from synthetic writers only.

Runs ``sigver.pretrained.recipe.run_recipe`` with the shipped settings (``RECIPE``; every
value is printed first) into ``--out``, and prints the time of each stage. The files to
ship are then ``OUT/package/model.pth``, ``preprocessing.json`` and ``wi-classifier.zip``
(copy them into ``src/sigver/pretrained/``). docs/pretrained.md records the run.

    nice -n 10 .venv/bin/python benchmarks/pretrain.py --out out/pretrain   # ~45 min, 2 cores
    .venv/bin/python benchmarks/pretrain.py --tiny --out out/pretrain-tiny  # seconds
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from sigver.pretrained.recipe import RECIPE, TINY, run_recipe


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/pretrain"),
                        help="output folder (stores, training runs, package)")
    parser.add_argument("--tiny", action="store_true",
                        help="the tiny recipe (seconds; proves the pipeline only)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=2, help="processes drawing scans")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                        help="where to train")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    recipe = TINY if args.tiny else RECIPE
    print(json.dumps(recipe.to_dict()))
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch "
          f"{torch.__version__}, started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", flush=True)
    result = run_recipe(args.out, recipe, workers=args.workers, device=args.device,
                        progress=True, echo=lambda line: print(line, flush=True))
    print(f"run time {result.stages['total']:.0f} s "
          f"({result.stages['total'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
