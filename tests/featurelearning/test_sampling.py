"""Batch plans: m-per-class batches (contrastive task) and shuffled batches (first task)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sigver.errors import ParameterError
from sigver.featurelearning.sampling import (
    PlannedBatches,
    crop_plan,
    m_per_class_batches,
    shuffled_batches,
)


def _labels() -> np.ndarray:
    # 13 users with 1 to 7 samples, shuffled, with gaps in the user numbers.
    counts = [1, 2, 3, 7, 4, 2, 5, 6, 1, 3, 2, 7, 4]
    labels = np.repeat(np.arange(len(counts)) * 3 + 10, counts)
    return np.random.RandomState(0).permutation(labels)


@pytest.mark.parametrize("batch_size", [2, 8, 26])
def test_every_batch_holds_two_samples_of_each_of_its_users(batch_size) -> None:
    labels = _labels()
    batches = m_per_class_batches(labels, batch_size=batch_size,
                                  generator=torch.Generator().manual_seed(1))
    # An epoch is 2 x the training-set size, in whole batches.
    assert len(batches) == 2 * len(labels) // batch_size
    counts = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    for batch in batches:
        assert batch.dtype == torch.int64 and len(batch) == batch_size
        users, per_user = np.unique(labels[batch.numpy()], return_counts=True)
        assert len(users) == batch_size // 2
        assert (per_user == 2).all()
        # Two distinct samples wherever the user has two.
        for user in users:
            picked = batch.numpy()[labels[batch.numpy()] == user]
            assert len(set(picked.tolist())) == min(2, counts[user])


def test_the_plan_covers_users_and_samples() -> None:
    labels = _labels()
    batches = m_per_class_batches(labels, batch_size=8,
                                  generator=torch.Generator().manual_seed(3))
    drawn = torch.cat(batches).numpy()
    assert set(labels[drawn]) == set(labels)
    # 2 x the set size drawn: most samples are seen at least once.
    assert len(set(drawn.tolist())) > 0.8 * len(labels)


def test_plans_are_reproducible_from_the_generator_state() -> None:
    labels = _labels()
    generator = torch.Generator().manual_seed(7)
    state = generator.get_state()
    first = m_per_class_batches(labels, batch_size=8, generator=generator)
    second = m_per_class_batches(labels, batch_size=8, generator=generator)
    generator.set_state(state)
    again = m_per_class_batches(labels, batch_size=8, generator=generator)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    other = m_per_class_batches(labels, batch_size=8,
                                generator=torch.Generator().manual_seed(8))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_global_random_state_is_neither_used_nor_changed() -> None:
    labels = _labels()
    torch.manual_seed(0)
    np.random.seed(0)
    expected_torch, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(0)
    np.random.seed(0)
    m_per_class_batches(labels, batch_size=8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(3), expected_torch)
    assert np.array_equal(np.random.rand(3), expected_np)


def test_samples_per_epoch_and_m() -> None:
    labels = np.repeat(np.arange(6), 4)
    batches = m_per_class_batches(labels, batch_size=12, m=3, samples_per_epoch=50,
                                  generator=torch.Generator().manual_seed(0))
    assert len(batches) == 4
    for batch in batches:
        _, per_user = np.unique(labels[batch.numpy()], return_counts=True)
        assert per_user.tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 7}, "batch_size=7: must be a multiple of m=2"),
    ({"batch_size": 28}, "batch_size=28: a batch holds 2 samples of 14 distinct classes "
                         "and there are 13; use at most 26"),
    ({"batch_size": 8, "samples_per_epoch": 7}, "samples_per_epoch=7: less than one batch"),
])
def test_impossible_plans_name_the_parameter(kwargs, message) -> None:
    with pytest.raises(ParameterError, match=message):
        m_per_class_batches(_labels(), generator=torch.Generator(), **kwargs)


def test_shuffled_batches_cover_every_sample_once() -> None:
    batches = shuffled_batches(21, batch_size=4, generator=torch.Generator().manual_seed(0))
    # The last batch would hold one sample (batch norm cannot train on it): dropped.
    assert [len(b) for b in batches] == [4] * 5
    assert len(set(torch.cat(batches).tolist())) == 20
    batches = shuffled_batches(22, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(22))


def test_planned_batches_crop_at_the_drawn_offsets() -> None:
    x = np.arange(3 * 1 * 6 * 8, dtype=np.uint8).reshape(3, 1, 6, 8)
    y, yforg = torch.tensor([5, 6, 7]), torch.tensor([0, 1, 0])
    plan = crop_plan([torch.tensor([2, 0])], image_shape=(6, 8), input_size=(4, 5),
                     generator=torch.Generator().manual_seed(0))
    images, by, bforg = PlannedBatches(x, y, yforg, plan, (4, 5))[0]
    (top0, left0), (top1, left1) = plan[0][1].tolist()
    assert torch.equal(images[0], torch.from_numpy(x[2, :, top0:top0 + 4, left0:left0 + 5]))
    assert torch.equal(images[1], torch.from_numpy(x[0, :, top1:top1 + 4, left1:left1 + 5]))
    assert by.tolist() == [7, 5] and bforg.tolist() == [0, 0]
