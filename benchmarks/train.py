"""SigNet training throughput on CPU: sigver's trainer vs the straightforward pipeline.

The straightforward pipeline is typical torchvision-style code written with PIL and torch
only: a Dataset that turns each stored image into a PIL image, takes a random 150 x 220
crop, converts it back to a float tensor; a shuffling DataLoader; the model, a linear
classifier, SGD with Nesterov momentum and gradient clipping. sigver's ``train`` (first
task) crops uint8 batches on tensors, runs the model in the channels-last layout and
updates the weights with the fused SGD kernel.

Both train two epochs and report images/s per epoch (validation and file writing
excluded). The first epoch includes oneDNN generating its kernels for each new batch
shape (a few seconds, which dominates an epoch of a few batches); the second is the
steady state that any real training run spends its time in. Each variant runs in its own
process (peak memory is per process). Run-to-run speed on a shared 2-core VM varies by up
to 30 %, so the variants run as ``--pairs`` back-to-back pairs (order alternating) and
the figures are medians: images/s per variant and the ratio within each pair, with the
range of those ratios.

    .venv/bin/python benchmarks/train.py [--users 8] [--per-user 24] [--pairs 5]
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


def straightforward_rates(x: np.ndarray, y: np.ndarray, model_name: str,
                          batch_size: int, epochs: int) -> list[float]:
    torch.manual_seed(0)
    model = create_model(model_name)
    clf = torch.nn.Linear(model.feature_space_size, int(y.max()) + 1)
    params = [*model.parameters(), *clf.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, nesterov=True,
                                weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(PilCropDataset(x, y, 0), batch_size=batch_size,
                                         shuffle=True, drop_last=True)
    model.train()
    rates = []
    for _ in range(epochs):
        started, seen = time.perf_counter(), 0
        for images, labels in loader:
            loss = F.cross_entropy(clf(model(images)), labels)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_value_(params, 10)
            optimizer.step()
            seen += len(labels)
        rates.append(seen / (time.perf_counter() - started))
    return rates


def sigver_rates(store: str, model_name: str, batch_size: int, n_users: int,
                 epochs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as logdir:
        result = train(TrainConfig(dataset_path=store, logdir=logdir, users=(0, n_users),
                                   model=model_name, task="signet", epochs=epochs,
                                   batch_size=batch_size, device="cpu", progress=False,
                                   val_fraction=0.05))
    return [record["images_per_s"] for record in result.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--per-user", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=5)
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
        epochs = 2
        runs: dict[str, list[list[float]]] = {"straightforward": [], "sigver": []}
        peaks: dict[str, float] = {"straightforward": 0.0, "sigver": 0.0}
        for pair in range(args.pairs):
            for variant in sorted(runs, reverse=pair % 2 == 1):
                if variant == "sigver":
                    rates, peak = run_isolated(sigver_rates, store, args.model,
                                               args.batch_size, args.users, epochs)
                else:
                    rates, peak = run_isolated(straightforward_rates, x[:n_train],
                                               y[:n_train], args.model, args.batch_size,
                                               epochs)
                runs[variant].append(rates)
                peaks[variant] = max(peaks[variant], peak)
    print(f"training (first task), {args.model}, {n} images, batch {args.batch_size}, "
          f"CPU threads {torch.get_num_threads()}, median of {args.pairs} pairs")
    reference = np.array(runs["straightforward"])
    for variant, rates in runs.items():
        ratios = np.array(rates) / reference
        cells = [f"epoch {e + 1} {np.median(np.array(rates)[:, e]):6.1f} images/s "
                 f"({np.median(ratios[:, e]):.2f}x, {ratios[:, e].min():.2f}-"
                 f"{ratios[:, e].max():.2f})" for e in range(epochs)]
        print(f"  {variant:<16} {'   '.join(cells)}   peak RSS {peaks[variant]:5.0f} MB")


if __name__ == "__main__":
    main()
