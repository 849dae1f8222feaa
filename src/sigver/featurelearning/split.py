"""The training data of a run: the selected users, split into training and validation.

Labels are re-encoded to 0..C-1 over the selected users; the split is seeded and
stratified on user and forgery flag (so every user is trained on) when the sizes allow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sigver.datasets.util import load_dataset
from sigver.errors import ParameterError
from sigver.featurelearning.data import check_crop


@dataclass
class Split:
    """One side of the split, in memory: uint8 images, user labels, forgery flags."""

    x: np.ndarray
    y: torch.Tensor
    yforg: torch.Tensor


@dataclass
class TrainingData:
    """The training and validation sides, and the number of users (classes)."""

    train: Split
    val: Split
    n_classes: int


def load_training_data(dataset_path: str | os.PathLike, *, users: tuple[int, int],
                       input_size: tuple[int, int], genuine_only: bool, val_fraction: float,
                       seed: int, trusted: bool = False) -> TrainingData:
    """Read a store and split the samples of ``users[0] <= y < users[1]``.

    Parameters
    ----------
    dataset_path
        The dataset store.
    users
        The user range to train on (at least 2 users).
    input_size
        The network input, which must fit in the stored images.
    genuine_only
        Drop the forgeries (every task but SigNet-F).
    val_fraction, seed
        Share held out for validation, and the seed of the split.
    trusted
        Allow unpickling the store's ``user_mapping`` (published stores).
    """
    x, y, yforg, _, _ = load_dataset(dataset_path, trusted=trusted)
    check_crop(x.shape[-2:], input_size)
    keep = (y >= users[0]) & (y < users[1])
    if genuine_only:
        keep &= yforg == 0
    if not keep.any():
        have = f"{int(y.min())}..{int(y.max())}" if y.size else "none"
        raise ParameterError("users", tuple(users),
                             f"selects no user of {dataset_path} (users: {have})")
    x, y, yforg = x[keep], y[keep], yforg[keep]
    _, labels = np.unique(y, return_inverse=True)
    n_classes = int(labels.max()) + 1
    if n_classes < 2:
        raise ParameterError("users", tuple(users),
                             f"training needs at least 2 users, found {n_classes}")
    index = np.arange(len(y))
    strata = labels * 3 + yforg
    try:
        train_idx, val_idx = train_test_split(index, test_size=val_fraction,
                                              random_state=seed, stratify=strata)
    except ValueError:  # a stratum too small to be on both sides
        train_idx, val_idx = train_test_split(index, test_size=val_fraction,
                                              random_state=seed)
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)

    def side(idx: np.ndarray) -> Split:
        return Split(x=np.ascontiguousarray(x[idx]), y=torch.from_numpy(labels[idx]),
                     yforg=torch.from_numpy(np.asarray(yforg[idx], dtype=np.int64)))

    return TrainingData(train=side(train_idx), val=side(val_idx), n_classes=n_classes)
