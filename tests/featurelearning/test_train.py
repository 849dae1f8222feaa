"""Training runs on a tiny drawn store: multi-task files, loss, determinism, resume."""

from __future__ import annotations

import importlib.util
import itertools
import json

import numpy as np
import pytest
import torch
from skimage.draw import line_aa

from sigver.datasets.util import save_dataset
from sigver.errors import SigverError
from sigver.featurelearning import contrastive_train
from sigver.featurelearning.models import load_model_parts
from sigver.featurelearning.train import TrainConfig, build_parser, config_from_args, train


def draw_store(path, n_users: int = 6, n_genuine: int = 5, n_forgeries: int = 1) -> None:
    """Per-user stroke patterns (170 x 242, ink bright); forgeries distort the strokes."""
    rng = np.random.RandomState(0)
    images, users, forg = [], [], []
    for user in range(n_users):
        points = np.random.RandomState(100 + user).randint([20, 20], [150, 222], (6, 2))
        for i in range(n_genuine + n_forgeries):
            spread = 4 if i < n_genuine else 15
            jittered = points + rng.randint(-spread, spread + 1, points.shape)
            jittered = np.clip(jittered, 0, [169, 241])
            img = np.zeros((170, 242), np.uint8)
            for a, b in itertools.pairwise(jittered):
                rr, cc, val = line_aa(a[0], a[1], b[0], b[1])
                img[rr, cc] = np.maximum(img[rr, cc], (val * 255).astype(np.uint8))
            images.append(img[None])
            users.append(user)
            forg.append(0 if i < n_genuine else 1)
    save_dataset(path, np.stack(images), np.array(users), np.array(forg),
                 list(range(n_users)), [f"img{i}.png" for i in range(len(users))])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "toy.npz"
    draw_store(path)
    return path


def _config(store, logdir, **kw) -> TrainConfig:
    base = {"dataset_path": str(store), "logdir": str(logdir), "users": (0, 6),
            "epochs": 2, "batch_size": 12, "device": "cpu", "progress": False,
            "model": "signet_thin"}
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def multitask_run(store, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("multi")
    return logdir, train(_config(store, logdir, forg=True, lamb=0.5))


def test_multitask_run_writes_files_and_learns(multitask_run) -> None:
    tmp_path, result = multitask_run
    for name in ("model_best.pth", "model_last.pth", "checkpoint.pt", "history.json",
                 "first_task/model_best.pth", "first_task/model_last.pth"):
        assert (tmp_path / name).is_file(), name
    first = load_model_parts(tmp_path / "first_task" / "model_best.pth")
    assert first.classification_layer.out_features == 6
    assert first.forgery_layer.out_features == 1
    second = load_model_parts(tmp_path / "model_last.pth")
    assert second.classification_layer is None and second.forgery_layer is None
    history = json.loads((tmp_path / "history.json").read_text())
    assert [(r["task"], r["epoch"]) for r in history] == [
        ("signet_f", 1), ("signet_f", 2), ("triplet", 1), ("triplet", 2)]
    assert history == result.history
    assert history[1]["train_loss"] < history[0]["train_loss"]
    # Step decay: 2 epochs // 3 decays -> a decay after every epoch.
    assert history[1]["lr"] == pytest.approx(history[0]["lr"] * 0.1)
    for record in history:
        assert record["images_per_s"] > 0
    assert 0 <= history[-1]["val_precision_at_1"] <= 1


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)[0]


class _StopRunError(Exception):
    pass


def test_same_seed_same_weights_and_resume_matches(store, tmp_path) -> None:
    cfg = {"task": "single", "loss_type": "ntxent", "epochs": 2, "batch_size": 8,
           "users": (0, 4)}
    train(_config(store, tmp_path / "a", **cfg))

    def stop_after_first(record) -> None:
        if record["epoch"] == 1:
            raise _StopRunError

    with pytest.raises(_StopRunError):
        train(_config(store, tmp_path / "b", **cfg), on_epoch_end=stop_after_first)
    interrupted = _weights(tmp_path / "b" / "model_last.pth")
    train(_config(store, tmp_path / "b", resume=True, **cfg))
    full, resumed = _weights(tmp_path / "a" / "model_last.pth"), _weights(
        tmp_path / "b" / "model_last.pth")
    assert any(not torch.equal(interrupted[k], full[k]) for k in full)
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    with pytest.raises(SigverError, match="different settings .*lr"):
        train(_config(store, tmp_path / "b", resume=True, lr=0.01, **cfg))


def test_test_mode_evaluates_checkpoint(store, multitask_run, tmp_path) -> None:
    logdir, result = multitask_run
    first = str(logdir / "first_task" / "model_best.pth")
    metrics = train(_config(store, tmp_path, task="signet", forg=True, test=True,
                            checkpoint=first))
    best = max(r["val_accuracy"] for r in result.history if r["task"] == "signet_f")
    assert metrics == {"val_accuracy": pytest.approx(best)}
    with pytest.raises(SigverError, match="6-user classification layer; --users selects 5"):
        train(_config(store, tmp_path, task="signet", test=True, users=(0, 5),
                      checkpoint=first))


def test_too_few_users_is_a_clear_error(store, tmp_path) -> None:
    with pytest.raises(SigverError, match="--users 0 1: training needs at least 2 users"):
        train(_config(store, tmp_path, users=(0, 1)))
    with pytest.raises(SigverError, match=r"^users=\(50, 60\): selects no user"):
        train(_config(store, tmp_path, users=(50, 60)))


def test_contrastive_help_lists_every_flag_with_default(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        contrastive_train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    flags = ["--dataset-path", "--users", "--logdir", "--model", "--task", "--loss-type",
             "--margin", "--temperature", "--forg-loss", "--batch-size", "--forg", "--lamb",
             "--epochs", "--lr", "--lr-decay", "--lr-decay-times", "--momentum",
             "--weight-decay", "--input-size", "--checkpoint", "--test", "--seed",
             "--device", "--gpu-idx", "--no-amp", "--workers", "--tensorboard", "--resume",
             "--visdomport"]
    text = " ".join(out.split())
    for flag in flags:
        assert f"{flag} " in text or f"{flag}\n" in out, flag
    for default in ("(default: 0.1)", "(default: 0.01)", "(default: triplet)",
                    "(default: 60)", "(default: [350, 881])", "(default: 42)",
                    "(default: multi)", "(default: 0.001)"):
        assert default in text, default


@pytest.mark.parametrize("loss", [["--loss-type", "triplet", "--margin", "0.1"],
                                  ["--loss-type", "ntxent", "--temperature", "0.01"]])
def test_published_commands_parse_verbatim(loss) -> None:
    argv = ["--dataset-path", "data.npz", "--users", "350", "881", "--epochs", "60",
            "--logdir", "triplet_model", *loss]
    args = build_parser(contrastive=True).parse_args(argv)
    config = config_from_args(args, contrastive=True)
    config.validate()
    assert (config.users, config.epochs, config.task, config.loss_type) == (
        (350, 881), 60, "multi", loss[1])
    assert (config.margin, config.temperature, config.batch_size) == (0.1, 0.01, None)
    first = config_from_args(build_parser(contrastive=False).parse_args(
        ["--dataset-path", "d.npz", "--logdir", "l", "--forg", "--lamb", "0.9",
         "--loss-type", "L1"]), contrastive=False)
    assert (first.task, first.forg, first.lamb, first.forg_loss) == ("signet", True, 0.9,
                                                                      "eq3")


def test_tensorboard_without_package_is_a_clear_error(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else object())
    with pytest.raises(SigverError, match="pip install tensorboard"):
        train(_config(store, tmp_path, tensorboard=str(tmp_path / "tb")))
