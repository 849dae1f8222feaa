"""Data-parallel training: ranks from the torchrun environment, sharded batch plans, and
real 2-process torchrun jobs (gloo on the CPU): files and logs from rank 0 only, resume,
and one DDP step against the single-process step."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ddp_step
import sigver
from sigver.errors import ParameterError, SigverError
from sigver.featurelearning.distributed import Group, Ranks, rank_device
from sigver.featurelearning.models import load_model_parts
from sigver.featurelearning.sampling import m_per_class_batches, rank_shared_batches
from sigver.featurelearning.tasks import fit_batch_size
from training_helpers import draw_store

HELPERS = Path(ddp_step.__file__).parent
SRC = Path(sigver.__file__).parents[1]


def test_ranks_come_from_the_torchrun_environment() -> None:
    assert Ranks.from_environment({}) == Ranks(rank=0, world_size=1, local_rank=0)
    ranks = Ranks.from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert ranks == Ranks(rank=3, world_size=4, local_rank=1)
    assert not ranks.is_main and Ranks().is_main
    with pytest.raises(SigverError, match="RANK='x' in the environment is not an integer"):
        Ranks.from_environment({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(SigverError, match="RANK=2 and WORLD_SIZE=2 .* inconsistent"):
        Ranks.from_environment({"RANK": "2", "WORLD_SIZE": "2"})
    assert rank_device("cpu", None, ranks) == torch.device("cpu")


def test_each_rank_takes_its_contiguous_share_of_every_global_batch() -> None:
    plan = [(torch.arange(10, 18), torch.arange(16).reshape(8, 2)),
            (torch.arange(5), torch.arange(10).reshape(5, 2)),
            (torch.arange(3), torch.zeros(3, 2, dtype=torch.int64))]
    assert Group().shard(plan) is plan
    shares = [Group(Ranks(rank=r, world_size=2)).shard(plan) for r in (0, 1)]
    # The 3-sample batch cannot give each rank the 2 samples batch norm needs.
    assert [len(s) for s in shares] == [2, 2]
    assert shares[0][0][0].tolist() == [10, 11, 12, 13]
    assert shares[1][0][0].tolist() == [14, 15, 16, 17]
    assert shares[1][0][1].tolist() == [[8, 9], [10, 11], [12, 13], [14, 15]]
    assert shares[0][1][0].tolist() == [0, 1, 2] and shares[1][1][0].tolist() == [3, 4]


def _labels() -> np.ndarray:
    counts = [1, 2, 3, 7, 4, 2, 5, 6, 1, 3, 2, 7, 4]
    return np.random.RandomState(0).permutation(np.repeat(np.arange(len(counts)) * 3,
                                                          counts))


def test_rank_shared_batches_draw_each_rank_from_its_own_users() -> None:
    labels = _labels()
    epochs = []
    generator = torch.Generator().manual_seed(1)
    for _ in range(2):
        batches = rank_shared_batches(labels, batch_size=8, ranks=2, generator=generator)
        # As many batches as a single process draws.
        assert len(batches) == len(m_per_class_batches(
            labels, batch_size=8, generator=torch.Generator().manual_seed(1)))
        users = [set(), set()]
        for batch in batches:
            assert len(batch) == 8
            for rank, part in enumerate(batch.tensor_split(2)):
                part_users, per_user = np.unique(labels[part.numpy()], return_counts=True)
                assert len(part_users) == 2 and (per_user == 2).all()
                users[rank] |= set(part_users.tolist())
        assert not users[0] & users[1]
        assert len(users[0] | users[1]) > 8
        epochs.append(users)
    # The users are dealt out anew every epoch.
    assert epochs[0] != epochs[1]
    again = rank_shared_batches(labels, batch_size=8, ranks=2,
                                generator=torch.Generator().manual_seed(1))
    first = rank_shared_batches(labels, batch_size=8, ranks=2,
                                generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(again, first, strict=True))
    with pytest.raises(ParameterError, match="batch_size=6: must be a multiple of m x "
                                             "ranks = 4"):
        rank_shared_batches(labels, batch_size=6, ranks=2, generator=generator)


def test_contrastive_batch_size_is_fitted_to_the_users_of_each_rank() -> None:
    assert fit_batch_size(12, 6, ranks=2) == 12
    with pytest.warns(UserWarning, match="batch_size=256: .* 7 users shared among 2 "
                                         "processes \\(a multiple of 4\\); using batches "
                                         "of 12"):
        assert fit_batch_size(256, 7, ranks=2) == 12
    with pytest.warns(UserWarning, match="using batches of 8"):
        assert fit_batch_size(10, 6, ranks=2) == 8
    with pytest.raises(ParameterError, match="batch_size=8: the training set's 3 users "
                                             "cannot be shared among 4 processes"):
        fit_batch_size(8, 3, ranks=4)


def _torchrun(*args: str, timeout: int = 600) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HELPERS)])
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", *args], env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _flags(store: Path, logdir: Path) -> list[str]:
    return ["--dataset-path", str(store), "--logdir", str(logdir), "--users", "0", "6",
            "--epochs", "2", "--batch-size", "12", "--device", "cpu",
            "--model", "signet_thin", "--forg", "--lamb", "0.5", "--loss-type", "ntxent",
            "--temperature", "0.1"]


def _reports(folder: Path) -> list[dict]:
    return [json.loads((folder / f"rank{rank}.json").read_text()) for rank in (0, 1)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return draw_store(tmp_path_factory.mktemp("store") / "toy.npz")


@pytest.fixture(scope="module")
def ddp_run(store, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("ddp") / "run"
    reports = tmp_path_factory.mktemp("reports")
    _torchrun(str(HELPERS / "torchrun_worker.py"), str(reports), str(logdir.parent), "--",
              *_flags(store, logdir))
    return logdir, _reports(reports)


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)[0]


@pytest.mark.slow
def test_torchrun_trains_both_tasks_and_only_rank_0_writes_or_prints(ddp_run) -> None:
    logdir, (main, other) = ddp_run
    assert main["status"] == other["status"] == 0
    first = load_model_parts(logdir / "first_task" / "model_best.pth")
    assert first.classification_layer.out_features == 6
    assert first.forgery_layer.out_features == 1
    final = load_model_parts(logdir / "model_last.pth")
    assert final.classification_layer is None
    history = json.loads((logdir / "history.json").read_text())
    assert [(r["task"], r["epoch"]) for r in history] == [
        ("signet_f", 1), ("signet_f", 2), ("ntxent", 1), ("ntxent", 2)]
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert history[3]["train_loss"] < history[2]["train_loss"]
    checkpoint = torch.load(logdir / "checkpoint.pt", weights_only=True)
    assert checkpoint["world_size"] == 2
    # Rank 1 wrote nothing and printed nothing; rank 0 wrote every output, through
    # atomic replacements, and showed the logs and progress bars.
    assert other["writes"] == [] and other["output"] == ""
    replaced = {Path(args[-1]).relative_to(logdir).as_posix()
                for event, *args in main["writes"] if event == "os.rename"}
    assert {"model_best.pth", "model_last.pth", "checkpoint.pt", "history.json",
            "preprocessing.json", "first_task/model_best.pth",
            "first_task/checkpoint.pt", "first_task/preprocessing.json"} <= replaced
    assert "signet_f epoch 2/2: loss" in main["output"]
    assert "ntxent epoch 1/2:" in main["output"] and "batch/s" in main["output"]
    assert f"wrote {logdir / 'model_best.pth'}" in main["output"]


@pytest.mark.slow
def test_torchrun_resumes_to_the_same_weights(store, ddp_run, tmp_path) -> None:
    full_dir, _ = ddp_run
    logdir = tmp_path / "run"
    _torchrun(str(HELPERS / "torchrun_worker.py"), str(tmp_path), str(logdir), "ntxent",
              "1", "--", *_flags(store, logdir))
    assert [r["stopped"] for r in _reports(tmp_path)] == [True, True]
    interrupted = _weights(logdir / "model_last.pth")
    _torchrun("-m", "sigver.featurelearning.contrastive_train", "--resume", "--no-progress",
              *_flags(store, logdir))
    for name in ("model_last.pth", "first_task/model_best.pth"):
        expected, resumed = _weights(full_dir / name), _weights(logdir / name)
        for key in expected:
            assert torch.equal(expected[key], resumed[key]), (name, key)
    assert any(not torch.equal(interrupted[k], resumed[k]) for k in resumed)
    history = json.loads((logdir / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 1, 2]


def _max_diff(a: dict, b: dict, keys) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in keys)


def _ghost_batches(model, task):
    """The loss of each half of the batch through the model on its own (so batch norm
    normalises each with its own statistics, as each rank does), averaged."""
    def forward(inputs, y, yforg):
        halves = [slice(0, ddp_step.BATCH // 2), slice(ddp_step.BATCH // 2, None)]
        losses = [task.loss(model(inputs[h]), y[h], yforg[h])[0] for h in halves]
        return sum(losses) / 2, math.nan
    return forward


@pytest.mark.slow
def test_one_ddp_step_equals_the_single_process_step(tmp_path) -> None:
    _torchrun(str(HELPERS / "ddp_step.py"), str(tmp_path))
    ranks = {(mode, r): torch.load(tmp_path / f"{mode}_rank{r}.pt", weights_only=True)
             for mode in ("train", "eval") for r in (0, 1)}
    single = Group()
    # The ranks compute with one thread each (torchrun's default), and so does the
    # reference: the order of the float sums in a convolution depends on the threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = {mode: ddp_step.take_step(single, mode) for mode in ("train", "eval")}
        ghost = ddp_step.take_step(single, "train", forward=_ghost_batches)
    finally:
        torch.set_num_threads(threads)
    _, task, model, _ = ddp_step.setup(single)
    initial = {f"model.{k}": v for k, v in model.state_dict().items()}
    initial.update({f"clf.{k}": v for k, v in task.heads["clf"].state_dict().items()})
    params = [k for k in initial if "running_" not in k and "num_batches" not in k]
    for mode in ("train", "eval"):
        for key in params:  # DDP gives every rank the same averaged gradient
            assert torch.equal(ranks[mode, 0][key], ranks[mode, 1][key]), key
    # The step is large: an error in the gradient would show far above the tolerance.
    assert _max_diff(reference["eval"], initial, params) > 1e-3
    # Batch norm on running statistics: 2 ranks x 4 samples = 1 process x 8 samples.
    eval_diff = _max_diff(ranks["eval", 0], reference["eval"], params)
    assert eval_diff < 1e-5
    # Batch norm on batch statistics: each rank normalises its share with its own
    # statistics, i.e. the step of the mean loss of the two halves, each through the
    # model on its own -- not that of the 8-sample batch.
    train_diff = _max_diff(ranks["train", 0], ghost, params)
    assert train_diff < 1e-5
    batch_stats_diff = _max_diff(ranks["train", 0], reference["train"], params)
    assert batch_stats_diff > 1e-3
    # The running statistics kept are rank 0's: those of one forward pass of its half.
    _, _, model, _ = ddp_step.setup(single)
    with torch.no_grad():
        model(ddp_step.to_network_input(torch.from_numpy(
            task.data.train.x[:ddp_step.BATCH // 2]), ddp_step.CPU))
    for key, value in model.state_dict().items():
        if "running_" in key:
            assert torch.allclose(ranks["train", 0][f"model.{key}"], value, atol=1e-6), key
    print(f"max |DDP - single process| after one step: BN eval {eval_diff:.2e}, "
          f"BN train (per-rank statistics) {train_diff:.2e}; BN train against the 8-sample "
          f"batch statistics {batch_stats_diff:.2e}")
