"""Network inputs made on tensors agree with the one-image-at-a-time PIL way."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sigver.featurelearning.data import (
    center_crop_batch,
    crop_batch,
    random_crop_offsets,
    to_network_input,
)

STORED = (170, 242)
INPUT = (150, 220)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (n, 1, *STORED), dtype=np.uint8)


def _pil_crop(image: np.ndarray, top: int, left: int) -> np.ndarray:
    crop = Image.fromarray(image[0]).crop((left, top, left + INPUT[1], top + INPUT[0]))
    return np.asarray(crop)[None]


def test_crop_batch_matches_pil_crops_at_every_offset_kind(tmp_path) -> None:
    x = _images(12)
    index = np.array([3, 0, 11, 3, 7, 5])
    # Corners and interior offsets: the largest valid offset must keep the whole crop.
    offsets = torch.tensor([[0, 0], [20, 22], [0, 22], [20, 0], [7, 13], [19, 1]])
    memmap = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8,
                                       shape=x.shape)
    memmap[:] = x
    for source in (x, memmap):
        batch = crop_batch(source, index, offsets, INPUT)
        assert batch.dtype == torch.uint8
        assert tuple(batch.shape) == (len(index), 1, *INPUT)
        for k, (i, (top, left)) in enumerate(zip(index, offsets.tolist(), strict=True)):
            np.testing.assert_array_equal(batch[k].numpy(), _pil_crop(x[i], top, left))


def test_random_offsets_cover_the_valid_range_and_follow_the_generator() -> None:
    first = random_crop_offsets(4000, STORED, INPUT, torch.Generator().manual_seed(5))
    again = random_crop_offsets(4000, STORED, INPUT, torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    assert first[:, 0].min() == 0 and first[:, 0].max() == STORED[0] - INPUT[0]
    assert first[:, 1].min() == 0 and first[:, 1].max() == STORED[1] - INPUT[1]


def test_network_input_is_scaled_channels_last_and_centre_crop_is_centred() -> None:
    x = _images(5, seed=1)
    centre = center_crop_batch(x, 1, 4, INPUT)
    np.testing.assert_array_equal(centre.numpy(),
                                  np.stack([_pil_crop(x[i], 10, 11) for i in (1, 2, 3)]))
    inputs = to_network_input(centre, torch.device("cpu"))
    assert inputs.dtype == torch.float32
    assert inputs.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(inputs, centre.float() / 255, rtol=0, atol=1e-7)
