"""SigNet training throughput on CPU: sigver's trainer vs the straightforward pipeline.

The straightforward pipeline is typical torchvision-style code written with PIL and torch
only: a Dataset that turns each stored image into a PIL image, takes a random 150 x 220
crop, converts it back to a float tensor; a shuffling DataLoader; the model, a linear
classifier, SGD with Nesterov momentum and gradient clipping. sigver's ``train`` (first
task) crops uint8 batches on tensors and runs the model in the channels-last layout.
Both report images/s over one training epoch (validation and file writing excluded), each
in its own process (peak memory is per process), alternating, best of ``--repeats``.

    .venv/bin/python benchmarks/train.py [--users 8] [--per-user 24] [--repeats 2]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from extract import make_images, run_isolated
from sigver.datasets.util import save_dataset
from sigver.featurelearning.models import create_model
from sigver.featurelearning.train import TrainConfig, train


class PilCropDataset(torch.utils.data.Dataset):
    """Random crops one sample at a time through PIL."""

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int) -> None:
        self.x, self.y = x, y
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.x[i, 0])
        top = self.rng.randint(0, img.height - 150)
        left = self.rng.randint(0, img.width - 220)
        img = img.crop((left, top, left + 220, top + 150))
        tensor = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).unsqueeze(0)
        return tensor, int(self.y[i])


def straightforward_rate(x: np.ndarray, y: np.ndarray, model_name: str,
                         batch_size: int) -> float:
    torch.manual_seed(0)
    model = create_model(model_name)
    clf = torch.nn.Linear(model.feature_space_size, int(y.max()) + 1)
    params = [*model.parameters(), *clf.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(PilCropDataset(x, y, 0), batch_size=batch_size,
                                         shuffle=True, drop_last=True)
    model.train()
    started, seen = time.perf_counter(), 0
    for images, labels in loader:
        loss = F.cross_entropy(clf(model(images)), labels)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 10)
        optimizer.step()
        seen += len(labels)
    return seen / (time.perf_counter() - started)


def sigver_rate(store: str, model_name: str, batch_size: int, n_users: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        result = train(TrainConfig(dataset_path=store, logdir=logdir, users=(0, n_users),
                                   model=model_name, task="signet", epochs=1,
                                   batch_size=batch_size, device="cpu", progress=False,
                                   val_fraction=0.05))
    return result.history[0]["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--per-user", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="signet")
    args = parser.parse_args()
    n = args.users * args.per_user
    x = make_images(n)
    y = np.repeat(np.arange(args.users), args.per_user)
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "bench.npz")
        save_dataset(store, x, y, np.zeros(n, int), list(range(args.users)),
                     [f"img{i}" for i in range(n)])
        # The straightforward loop sees the same 95 % that sigver trains on.
        n_train = n - int(np.ceil(0.05 * n))
        best = {"straightforward": (0.0, 0.0), "sigver": (0.0, 0.0)}
        for _ in range(args.repeats):
            for variant in best:
                if variant == "sigver":
                    rate, peak = run_isolated(sigver_rate, store, args.model,
                                              args.batch_size, args.users)
                else:
                    rate, peak = run_isolated(straightforward_rate, x[:n_train], y[:n_train],
                                              args.model, args.batch_size)
                if rate > best[variant][0]:
                    best[variant] = (rate, peak)
    print(f"training (first task), {args.model}, {n} images, batch {args.batch_size}, "
          f"CPU threads {torch.get_num_threads()}, best of {args.repeats}")
    for variant, (rate, peak) in best.items():
        print(f"  {variant:<16} {rate:8.1f} images/s   peak RSS {peak:7.0f} MB   "
              f"ratio {rate / best['straightforward'][0]:.2f}x")


if __name__ == "__main__":
    main()
