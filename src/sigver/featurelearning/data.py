"""Turning stored images into network inputs on tensors: crops, scaling, devices.

Stored images are uint8 ``N x 1 x 170 x 242`` (ink bright). The network takes float
``N x 1 x 150 x 220`` in [0, 1]: a random crop per sample per iteration for training, the
centre crop otherwise (docs/preprocessing.md). Crops are index arithmetic on uint8 arrays, and
the division by 255 happens on the target device, so no per-sample image objects are made.
"""

from __future__ import annotations

import numpy as np
import torch

from sigver.errors import ParameterError


def resolve_device(device: str | torch.device = "auto", gpu_idx: int | None = None
                   ) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cuda`` without a GPU is an error."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParameterError("device", device, "no CUDA GPU is available (use cpu)")
        if name == "cuda" and gpu_idx is not None:
            name = f"cuda:{gpu_idx}"
    elif name != "cpu":
        raise ParameterError("device", device, "choose one of auto, cpu, cuda")
    return torch.device(name)


def check_crop(image_shape: tuple[int, int], input_size: tuple[int, int]) -> None:
    """The crop must fit inside the stored images."""
    if input_size[0] > image_shape[0] or input_size[1] > image_shape[1]:
        raise ParameterError("input_size", tuple(input_size), f"larger than the stored "
                             f"images ({image_shape[0]} x {image_shape[1]})")


def center_crop_batch(x: np.ndarray, start: int, stop: int,
                      input_size: tuple[int, int]) -> torch.Tensor:
    """Rows ``start:stop`` of a uint8 ``N x 1 x H x W`` array (or memmap), centre-cropped.

    Slicing before copying means a memmap reads only the pixels that are used.
    """
    height, width = x.shape[-2:]
    top = (height - input_size[0]) // 2
    left = (width - input_size[1]) // 2
    crop = x[start:stop, :, top:top + input_size[0], left:left + input_size[1]]
    return torch.from_numpy(np.ascontiguousarray(crop))


def random_crop_offsets(n: int, image_shape: tuple[int, int], input_size: tuple[int, int],
                        generator: torch.Generator) -> torch.Tensor:
    """``n x 2`` (top, left) offsets drawn uniformly, one per sample."""
    tops = torch.randint(0, image_shape[0] - input_size[0] + 1, (n,), generator=generator)
    lefts = torch.randint(0, image_shape[1] - input_size[1] + 1, (n,), generator=generator)
    return torch.stack([tops, lefts], dim=1)


def crop_batch(x: np.ndarray, index: np.ndarray, offsets: torch.Tensor,
               input_size: tuple[int, int]) -> torch.Tensor:
    """Crop ``x[index[k]]`` at its own (top, left) ``offsets[k]``, for every ``k``.

    ``x`` is the stored uint8 ``N x C x H x W`` array (or memmap); only the cropped pixels
    are read. One slice copy per sample is about 20x faster than a single advanced-indexing
    gather, which builds an index tensor the size of the batch.
    """
    height, width = input_size
    out = np.empty((len(index), x.shape[1], height, width), dtype=x.dtype)
    for k, (i, (top, left)) in enumerate(zip(index.tolist(), offsets.tolist(), strict=True)):
        out[k] = x[i, :, top:top + height, left:left + width]
    return torch.from_numpy(out)


def to_network_input(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 crops -> float in [0, 1] on ``device`` (the copy moves 1 byte per pixel).

    The result is in channels-last layout, which the models use (see ``fast_layout``).
    """
    images = batch.to(device, non_blocking=True).float().div_(255)
    return images.contiguous(memory_format=torch.channels_last)


def fast_layout(module: torch.nn.Module) -> torch.nn.Module:
    """Set a model up for fast execution (in place; returns it); values do not change.

    Conv weights go to the channels-last layout: oneDNN (CPU) and cuDNN with mixed
    precision run SigNet's convolutions faster in it (on the CPU mostly the first layer,
    whose single input channel the default layout handles 3x slower in training). ReLUs
    overwrite their input, a batch-norm output that nothing else reads (batch-norm
    backward uses its input), which saves one activation-sized allocation per block.
    The saved model files do not change.
    """
    for child in module.modules():
        if isinstance(child, torch.nn.ReLU):
            child.inplace = True
    return module.to(memory_format=torch.channels_last)
