"""Feature extraction throughput: sigver's extractor vs the straightforward pipeline.

The straightforward pipeline is what typical torchvision-style code does (written here
with PIL and torch only): a Dataset that turns each stored image into a PIL image, crops
its centre, converts it back to a float tensor, a DataLoader that collates batches, and
the model under ``torch.no_grad()``. sigver's ``extract_features`` crops uint8 arrays in
batches, folds batch norm into the layers, uses the channels-last layout and
``torch.inference_mode()``.

Each variant runs in its own process (peak memory is per process), alternating, and
the best of ``--repeats`` is kept. Also reports bfloat16 autocast and its feature error.

    .venv/bin/python benchmarks/extract.py [--images 256] [--repeats 3] [--model signet]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from sigver.featurelearning.extract import extract_features
from sigver.featurelearning.models import create_model


def make_images(n: int, seed: int = 0) -> np.ndarray:
    """Stored-size uint8 images with sparse bright strokes (like processed signatures)."""
    rng = np.random.RandomState(seed)
    return ((rng.rand(n, 1, 170, 242) < 0.06) * rng.randint(60, 256, (n, 1, 170, 242))
            ).astype(np.uint8)


class PilDataset(torch.utils.data.Dataset):
    """One sample at a time through PIL, as torchvision-style transforms do."""

    def __init__(self, x: np.ndarray, input_size: tuple[int, int]) -> None:
        self.x, self.input_size = x, input_size

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = Image.fromarray(self.x[i, 0])
        height, width = self.input_size
        left = (img.width - width) // 2
        top = (img.height - height) // 2
        img = img.crop((left, top, left + width, top + height))
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).unsqueeze(0)


def straightforward(model: torch.nn.Module, x: np.ndarray, batch_size: int) -> np.ndarray:
    loader = torch.utils.data.DataLoader(PilDataset(x, (150, 220)), batch_size=batch_size)
    model.eval()
    out = []
    with torch.no_grad():
        for batch in loader:
            out.append(model(batch).numpy())
    return np.concatenate(out)


def _child(fn: Callable[..., Any], args: tuple, queue: mp.Queue) -> None:
    result = fn(*args)
    queue.put((result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_isolated(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` in a fresh process; returns its result and the process's peak RSS (MB)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _extract_rate(variant: str, model_name: str, n: int, batch_size: int
                  ) -> tuple[float, np.ndarray]:
    torch.manual_seed(0)
    model = create_model(model_name).eval()
    x = make_images(n)
    run = {
        "straightforward": lambda data: straightforward(model, data, batch_size),
        "sigver": lambda data: extract_features(model, data, batch_size=batch_size,
                                                device="cpu", progress=False),
        "sigver-bf16": lambda data: extract_features(model, data, batch_size=batch_size,
                                                     device="cpu", progress=False, bf16=True),
    }[variant]
    run(x[:batch_size])  # warm-up: first-call allocations and kernel selection
    started = time.perf_counter()
    features = run(x)
    return n / (time.perf_counter() - started), features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="signet")
    parser.add_argument("--bf16", action="store_true", help="also measure bfloat16 autocast")
    args = parser.parse_args()
    variants = ["straightforward", "sigver"] + (["sigver-bf16"] if args.bf16 else [])
    best: dict[str, tuple[float, float, np.ndarray]] = {}
    for _ in range(args.repeats):
        for variant in variants:
            (rate, features), peak = run_isolated(_extract_rate, variant, args.model,
                                                  args.images, args.batch_size)
            if variant not in best or rate > best[variant][0]:
                best[variant] = (rate, peak, features)
    print(f"extraction, {args.model}, {args.images} images, batch {args.batch_size}, "
          f"CPU threads {torch.get_num_threads()}, best of {args.repeats}")
    reference = best["straightforward"][2]
    for variant in variants:
        rate, peak, features = best[variant]
        diff = np.abs(features - reference).max() / max(np.abs(reference).max(), 1e-12)
        print(f"  {variant:<16} {rate:8.1f} images/s   peak RSS {peak:7.0f} MB   "
              f"ratio {rate / best['straightforward'][0]:.2f}x   max relative feature "
              f"difference {diff:.1e}")


if __name__ == "__main__":
    main()
