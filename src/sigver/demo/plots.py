"""Figures of the demo report that no pipeline stage draws itself: the training curves
read from a training run's ``history.json`` records, and stored (preprocessed) images."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sigver.io import atomic_output

# Validation metric of each kind of task, as named in the training history records.
_METRIC_LABELS = {
    "val_accuracy": "validation accuracy (users)",
    "val_precision_at_1": "validation precision@1",
}
_TASK_LABELS = {
    "signet": "first task: user classification (SigNet)",
    "signet_f": "first task: users + forgeries (SigNet-F)",
    "triplet": "second task: triplet loss",
    "ntxent": "second task: NT-Xent",
}


def split_tasks(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping]]]:
    """Group consecutive history records by task, in run order."""
    groups: list[tuple[str, list[Mapping]]] = []
    for record in history:
        if not groups or groups[-1][0] != record["task"]:
            groups.append((record["task"], []))
        groups[-1][1].append(record)
    return groups


def plot_training_curves(history: Sequence[Mapping[str, Any]],
                         path: str | os.PathLike) -> None:
    """Draw loss (top) and accuracies (bottom) per epoch, one column per task.

    Parameters
    ----------
    history
        Per-epoch records of a training run (``history.json``): ``task``, ``epoch``,
        ``train_loss``, ``train_accuracy`` and the task's validation metric.
    path
        PNG file to write.
    """
    groups = split_tasks(history)
    if not groups:
        raise ValueError("the training history is empty")
    fig = Figure(figsize=(5.2 * len(groups), 6.4), layout="constrained")
    axes = fig.subplots(2, len(groups), squeeze=False, sharex="col")
    for col, (task, records) in enumerate(groups):
        epochs = [r["epoch"] for r in records]
        top, bottom = axes[0, col], axes[1, col]
        top.plot(epochs, [r["train_loss"] for r in records], "o-", color="tab:red")
        top.set_title(_TASK_LABELS.get(task, task))
        top.set_ylabel("training loss")
        train_acc = [r.get("train_accuracy") for r in records]
        if any(a is not None for a in train_acc):
            bottom.plot(epochs, [float("nan") if a is None else a for a in train_acc],
                        "s--", color="tab:gray", label="training batches")
        for key, label in _METRIC_LABELS.items():
            if key in records[0]:
                bottom.plot(epochs, [r[key] for r in records], "o-", color="tab:blue",
                            label=label)
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_xlabel("epoch")
        bottom.set_ylabel("accuracy")
        bottom.legend(loc="lower right", fontsize="small")
        bottom.set_xticks(epochs if len(epochs) <= 12 else epochs[:: len(epochs) // 10])
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)


def plot_processed_examples(x: np.ndarray, y: np.ndarray, yforg: np.ndarray,
                            path: str | os.PathLike, users: Sequence[int] = (0, 1, 2),
                            per_kind: int = 2) -> None:
    """Draw stored images as the network sees them: one row per user, ``per_kind``
    genuine signatures then ``per_kind`` skilled forgeries.

    Parameters
    ----------
    x, y, yforg
        A dataset store's images (N x 1 x H x W, ink bright), users and forgery flags.
    path
        PNG file to write.
    users
        Users shown, one per row.
    per_kind
        Images of each kind per row (fewer when the user has fewer).
    """
    rows = []
    for user in users:
        picks = [np.flatnonzero((y == user) & (yforg == kind))[:per_kind] for kind in (0, 1)]
        rows.append([(int(i), kind) for kind, idx in zip(("genuine", "skilled"), picks,
                                                         strict=True) for i in idx])
    if not any(rows):
        raise ValueError(f"no images of users {list(users)} in the store")
    columns = max(len(row) for row in rows)
    height, width = x.shape[-2:]
    fig = Figure(figsize=(1.9 * columns, 1.9 * height / width * len(rows) + 0.5),
                 layout="constrained")
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for r, (user, row) in enumerate(zip(users, rows, strict=True)):
        for c in range(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(row):
                ax.set_axis_off()
                continue
            index, kind = row[c]
            # Ink is stored bright on black; show it the usual way round.
            ax.imshow(255 - np.asarray(x[index, 0]), cmap="gray", vmin=0, vmax=255)
            ax.set_title(kind, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"user {user}", fontsize=8)
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
