"""Data-parallel training under ``torchrun``: the ranks, the process group, DDP.

``torchrun --nproc-per-node N [--nnodes M ...]`` starts one process per rank with
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment; ``train`` reads them
(``Ranks.from_environment``), joins the process group (gloo on the CPU, NCCL on CUDA,
device ``cuda:LOCAL_RANK``) and trains with PyTorch's ``DistributedDataParallel``. Without
them (or with ``WORLD_SIZE=1``) nothing here calls ``torch.distributed`` and training is
the single-process one.

How the work is split (docs/scaling.md):

- Every rank draws the same global batch plan from the same seeded generator and takes
  its contiguous share of each batch (``Group.shard``); the batch size is the global
  one. DDP averages the gradients, so the step is that of the global batch, except for
  batch norm: each rank normalises with the statistics of its own share (DDP's default;
  PyTorch's ``SyncBatchNorm`` has no CPU kernels), and the running statistics kept (DDP
  broadcasts buffers from rank 0 at every forward pass) are rank 0's.
- Rank 0 alone writes files, prints and shows progress bars; it computes the validation
  metric on the whole validation set while the others wait, and sends it to them.
- Epoch losses and accuracies are summed over the ranks, so the history holds the
  global per-image means.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from sigver.errors import SigverError
from sigver.featurelearning.data import resolve_device

RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
Plan = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Ranks:
        """The ranks ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); a
        single process without them."""
        environ = os.environ if environ is None else environ
        if "WORLD_SIZE" not in environ:
            return cls()
        values = {}
        for name in RANK_VARIABLES:
            try:
                values[name] = int(environ.get(name, "0"))
            except ValueError:
                raise SigverError(f"{name}={environ[name]!r} in the environment is not an "
                                  "integer (set by torchrun)") from None
        ranks = cls(rank=values["RANK"], world_size=values["WORLD_SIZE"],
                    local_rank=values["LOCAL_RANK"])
        if ranks.world_size < 1 or not 0 <= ranks.rank < ranks.world_size:
            raise SigverError(f"RANK={ranks.rank} and WORLD_SIZE={ranks.world_size} in the "
                              "environment are inconsistent (set by torchrun)")
        return ranks


def is_main_process() -> bool:
    """True unless this is a rank other than 0 of a ``torchrun`` job."""
    return Ranks.from_environment().is_main


def rank_device(device: str, gpu_idx: int | None, ranks: Ranks) -> torch.device:
    """The device of this rank: as in a single process, but ``cuda:LOCAL_RANK`` for a
    CUDA job of several ranks (``gpu_idx`` is then ignored)."""
    resolved = resolve_device(device, gpu_idx)
    if resolved.type != "cuda" or ranks.world_size == 1:
        return resolved
    visible = torch.cuda.device_count()
    if ranks.local_rank >= visible:
        raise SigverError(f"LOCAL_RANK={ranks.local_rank} but this machine has {visible} "
                          f"CUDA GPUs: start at most {visible} processes per node")
    torch.cuda.set_device(ranks.local_rank)
    return torch.device("cuda", ranks.local_rank)


class Group:
    """The collectives of a training run; for a single process they do nothing.

    Parameters
    ----------
    ranks
        This process's rank and the world size.
    device
        This rank's device (the collectives' tensors live there: NCCL needs CUDA ones).
    """

    def __init__(self, ranks: Ranks | None = None, device: torch.device | None = None
                 ) -> None:
        self.ranks = ranks or Ranks()
        self.device = device or torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.ranks.is_main

    @property
    def world_size(self) -> int:
        return self.ranks.world_size

    def shard(self, plan: Plan) -> Plan:
        """This rank's share of every batch of a global plan.

        Each batch is cut into ``world_size`` contiguous near-equal parts; with several
        ranks, a batch too small to give each at least 2 samples (batch norm needs 2) is
        dropped by all.
        """
        if self.world_size == 1:
            return plan
        rank, size = self.ranks.rank, self.world_size
        return [(idx.tensor_split(size)[rank], offsets.tensor_split(size)[rank])
                for idx, offsets in plan if len(idx) >= 2 * size]

    def wrap(self, model: nn.Module, heads: dict[str, nn.Module],
             loss: Callable[..., Any]) -> Callable[..., Any]:
        """``forward(inputs, y, yforg) -> loss(model(inputs), y, yforg)``; with several
        ranks through DDP, which averages the gradients of the model and the heads."""
        if self.world_size == 1:
            return lambda inputs, y, yforg: loss(model(inputs), y, yforg)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(_TaskNetwork(model, heads, loss),
                                                   device_ids=device_ids)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over the ranks."""
        return self._reduce(values, dist.ReduceOp.SUM)

    def max(self, value: float) -> float:
        """The largest value over the ranks."""
        return self._reduce([value], dist.ReduceOp.MAX)[0]

    def all_equal(self, value: float) -> bool:
        """Whether every rank holds the same value."""
        high, neg_low = self._reduce([value, -value], dist.ReduceOp.MAX)
        return high == -neg_low

    def broadcast(self, value: float) -> float:
        """Rank 0's value, on every rank."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return tensor.item()

    def barrier(self) -> None:
        """Wait for every rank (e.g. until rank 0 has written a file the others read)."""
        if self.world_size > 1:
            dist.barrier()

    def _reduce(self, values: Sequence[float], op: Any) -> list[float]:
        if self.world_size == 1:
            return list(values)
        tensor = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return tensor.tolist()


class _TaskNetwork(nn.Module):
    """The model and the task's heads as one module, the task's loss as its forward pass,
    so that one DDP wrapper synchronises every trained weight."""

    def __init__(self, model: nn.Module, heads: dict[str, nn.Module],
                 loss: Callable[..., Any]) -> None:
        super().__init__()
        self.model = model
        self.heads = nn.ModuleDict(heads)
        self.loss = loss

    def forward(self, inputs: torch.Tensor, y: torch.Tensor, yforg: torch.Tensor) -> Any:
        return self.loss(self.model(inputs), y, yforg)


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[Group]:
    """The run's ``Group``; joins the process group for several ranks (and leaves it
    afterwards, unless the caller had joined it already)."""
    if ranks.world_size == 1 or dist.is_initialized():
        yield Group(ranks, device)
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world_size,
                            device_id=device if device.type == "cuda" else None)
    try:
        yield Group(ranks, device)
    finally:
        dist.destroy_process_group()
