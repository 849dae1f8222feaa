"""Batch plans: which samples each training batch holds, and where each is cropped.

An epoch's plan is drawn up front, in the main process, from the run's own
``torch.Generator``: the run is then identical for any number of loader workers (the
workers only gather and crop uint8 pixels), and the generator's state in the checkpoint is
all ``resume`` needs to draw the same later epochs.

- First task: a shuffled pass over the training set (``shuffled_batches``).
- Contrastive task: batches of ``batch_size / m`` distinct users with
  ``m = 2`` samples each, so that every sample has a positive in its batch; an epoch is
  2 x the training-set size in samples (``m_per_class_batches``). For a data-parallel run
  of R ranks (``rank_shared_batches``) each batch is the concatenation of R m-per-class
  batches of ``batch_size / R``, each drawn from one rank's share of the users.

Under ``torchrun`` every rank draws the same global plan and takes its part of each batch
(``sigver.featurelearning.distributed.Group.shard``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from sigver.errors import ParameterError
from sigver.featurelearning.data import crop_batch, random_crop_offsets

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def shuffled_batches(n_samples: int, *, batch_size: int, generator: torch.Generator
                     ) -> list[torch.Tensor]:
    """A random permutation of ``range(n_samples)`` cut into batches.

    A last batch of a single sample is dropped: batch norm cannot train on it.
    """
    order = torch.randperm(n_samples, generator=generator)
    batches = list(torch.split(order, batch_size))
    if batches and len(batches[-1]) < 2:
        batches.pop()
    return batches


def m_per_class_batches(labels: Sequence[int] | np.ndarray | torch.Tensor, *,
                        batch_size: int, generator: torch.Generator, m: int = 2,
                        samples_per_epoch: int | None = None) -> list[torch.Tensor]:
    """Batches of ``batch_size // m`` distinct classes with ``m`` samples of each.

    Parameters
    ----------
    labels
        The class of every training sample (any integers).
    batch_size
        Samples per batch, a multiple of ``m`` and at most ``m`` x the number of classes.
    generator
        The run's generator; the same state gives the same plan.
    m
        Samples per class in a batch. A class with fewer than ``m`` samples repeats some
        (its samples are all used first).
    samples_per_epoch
        Length of the plan in samples (default 2 x ``len(labels)``), rounded down to whole
        batches.

    Returns
    -------
    list of tensors
        Indices into ``labels``, one int64 tensor of ``batch_size`` per batch, the ``m``
        samples of a class next to each other.
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if m < 1:
        raise ParameterError("m", m, "must be >= 1")
    if batch_size < m or batch_size % m:
        raise ParameterError("batch_size", batch_size, f"must be a multiple of m={m}")
    classes, counts = torch.unique(labels, return_counts=True)
    per_batch = batch_size // m
    if per_batch > len(classes):
        raise ParameterError("batch_size", batch_size,
                             f"a batch holds {m} samples of {per_batch} distinct classes and "
                             f"there are {len(classes)}; use at most {m * len(classes)}")
    if samples_per_epoch is None:
        samples_per_epoch = 2 * len(labels)
    n_batches = samples_per_epoch // batch_size
    if n_batches < 1:
        raise ParameterError("samples_per_epoch", samples_per_epoch,
                             f"less than one batch of {batch_size}")
    # The samples of each class are contiguous in ``by_class``, from ``starts``.
    by_class = torch.argsort(labels, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    slots = torch.arange(int(counts.max()))
    batches = []
    for _ in range(n_batches):
        chosen = torch.randperm(len(classes), generator=generator)[:per_batch]
        count = counts[chosen].unsqueeze(1)
        # Random keys, past-the-end slots pushed last: the first m of the sorted order are
        # m distinct samples of the class (all of them when it has fewer than m).
        keys = torch.rand(per_batch, len(slots), generator=generator)
        keys[slots.unsqueeze(0) >= count] = 2.0
        picked = torch.argsort(keys, dim=1)[:, :m]
        repeats = (torch.rand(per_batch, m, generator=generator) * count).long()
        picked = torch.where(torch.arange(m).unsqueeze(0) < count, picked, repeats)
        batches.append(by_class[starts[chosen].unsqueeze(1) + picked].reshape(-1))
    return batches


def rank_shared_batches(labels: Sequence[int] | np.ndarray | torch.Tensor, *,
                        batch_size: int, ranks: int, generator: torch.Generator, m: int = 2
                        ) -> list[torch.Tensor]:
    """m-per-class batches for ``ranks`` processes, each with its own share of the classes.

    Every epoch the classes are dealt out anew, in a random order, into ``ranks`` disjoint
    shares (sizes differing by at most one). Each batch is the concatenation, rank after
    rank, of an ``m_per_class_batches`` batch of ``batch_size / ranks`` samples drawn
    from that rank's share; an epoch has as many batches as a single process's
    (2 x the training-set size, in batches of ``batch_size``).

    Parameters
    ----------
    labels, generator, m
        As for ``m_per_class_batches``.
    batch_size
        The global batch, a multiple of ``m * ranks``.
    ranks
        The number of processes the batch is split over.
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if ranks < 1:
        raise ParameterError("ranks", ranks, "must be >= 1")
    if batch_size < m * ranks or batch_size % (m * ranks):
        raise ParameterError("batch_size", batch_size,
                             f"must be a multiple of m x ranks = {m * ranks}")
    n_batches = 2 * len(labels) // batch_size
    if n_batches < 1:
        raise ParameterError("batch_size", batch_size,
                             f"more than 2 x the {len(labels)} training samples")
    classes = torch.unique(labels)
    dealt = classes[torch.randperm(len(classes), generator=generator)]
    local = batch_size // ranks
    per_rank = []
    for rank in range(ranks):
        members = torch.nonzero(torch.isin(labels, dealt[rank::ranks])).squeeze(1)
        batches = m_per_class_batches(labels[members], batch_size=local, m=m,
                                      generator=generator, samples_per_epoch=n_batches * local)
        per_rank.append([members[batch] for batch in batches])
    return [torch.cat(parts) for parts in zip(*per_rank, strict=True)]


def crop_plan(batches: list[torch.Tensor], *, image_shape: tuple[int, int],
              input_size: tuple[int, int], generator: torch.Generator
              ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each batch's indices with a (top, left) random-crop offset per sample."""
    return [(idx, random_crop_offsets(len(idx), image_shape, input_size, generator))
            for idx in batches]


class PlannedBatches(torch.utils.data.Dataset):
    """The batches of a plan, gathered and cropped from the stored uint8 images."""

    def __init__(self, x: np.ndarray, y: torch.Tensor, yforg: torch.Tensor,
                 plan: list[tuple[torch.Tensor, torch.Tensor]],
                 input_size: tuple[int, int]) -> None:
        self.x, self.y, self.yforg = x, y, yforg
        self.plan = plan
        self.input_size = input_size

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, item: int) -> Batch:
        idx, offsets = self.plan[item]
        return (crop_batch(self.x, idx.numpy(), offsets, self.input_size),
                self.y[idx], self.yforg[idx])


def iterate_batches(dataset: PlannedBatches, *, workers: int, pin: bool) -> Iterator[Batch]:
    """The batches in plan order, gathered in ``workers`` processes (0: in this one)."""
    if workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False,
                                         num_workers=workers, pin_memory=pin)
    return iter(loader)
