"""Training runs on a tiny drawn store: multi-task files, loss, settings, determinism,
resume, and evaluation of a model file."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from sigver.errors import ParameterError
from sigver.featurelearning.models import load_model_parts
from sigver.featurelearning.train import (
    EvaluationResult,
    TrainConfig,
    TrainResult,
    evaluate,
    train,
)
from sigver.settings import DefaultSettingsWarning, PreprocessingSettings, read_model_settings
from training_helpers import TOY_SETTINGS, draw_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return draw_store(tmp_path_factory.mktemp("store") / "toy.npz")


def _config(store, logdir, **kw) -> TrainConfig:
    base = {"dataset_path": str(store), "logdir": str(logdir), "users": (0, 6),
            "epochs": 2, "batch_size": 12, "device": "cpu", "progress": False,
            "model": "signet_thin"}
    return TrainConfig(**{**base, **kw})


MULTI = {"forg": True, "lamb": 0.5}


@pytest.fixture(scope="module")
def multitask_run(store, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("multi")
    return logdir, train(_config(store, logdir, **MULTI))


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)[0]


class _StopRunError(Exception):
    pass


def _stop_at(task: str, epoch: int):
    def callback(record) -> None:
        if (record["task"], record["epoch"]) == (task, epoch):
            raise _StopRunError
    return callback


@pytest.mark.slow
def test_multitask_run_writes_files_and_learns(multitask_run) -> None:
    tmp_path, result = multitask_run
    assert isinstance(result, TrainResult)
    assert result.model_best == tmp_path / "model_best.pth"
    for name in ("model_best.pth", "model_last.pth", "checkpoint.pt", "history.json",
                 "preprocessing.json", "first_task/model_best.pth",
                 "first_task/model_last.pth", "first_task/preprocessing.json"):
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


@pytest.mark.slow
def test_model_folders_record_the_store_settings(multitask_run) -> None:
    tmp_path, result = multitask_run
    assert read_model_settings(result.model_best) == TOY_SETTINGS
    assert read_model_settings(tmp_path / "first_task" / "model_best.pth") == TOY_SETTINGS


@pytest.mark.slow
def test_same_seed_same_weights_and_resume_matches(store, tmp_path) -> None:
    cfg = {"task": "single", "loss_type": "ntxent", "epochs": 2, "batch_size": 8,
           "users": (0, 4)}
    train(_config(store, tmp_path / "a", **cfg))
    with pytest.raises(_StopRunError):
        train(_config(store, tmp_path / "b", **cfg), on_epoch_end=_stop_at("ntxent", 1))
    interrupted = _weights(tmp_path / "b" / "model_last.pth")
    train(_config(store, tmp_path / "b", resume=True, **cfg))
    full, resumed = _weights(tmp_path / "a" / "model_last.pth"), _weights(
        tmp_path / "b" / "model_last.pth")
    assert any(not torch.equal(interrupted[k], full[k]) for k in full)
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    with pytest.raises(ParameterError, match="resume=True: .*checkpoint.pt was written "
                                             "with different settings .*lr"):
        train(_config(store, tmp_path / "b", resume=True, lr=0.01, **cfg))


@pytest.mark.slow
def test_resume_inside_the_second_task_of_a_multitask_run(store, multitask_run,
                                                          tmp_path) -> None:
    with pytest.raises(_StopRunError):
        train(_config(store, tmp_path, **MULTI), on_epoch_end=_stop_at("triplet", 1))
    result = train(_config(store, tmp_path, resume=True, **MULTI))
    full_dir, full = multitask_run
    for name in ("model_last.pth", "first_task/model_best.pth"):
        expected, resumed = _weights(full_dir / name), _weights(tmp_path / name)
        for key in expected:
            assert torch.equal(expected[key], resumed[key]), (name, key)
    assert [(r["task"], r["epoch"]) for r in result.history] == [
        (r["task"], r["epoch"]) for r in full.history]


@pytest.mark.slow
def test_evaluate_returns_the_metrics_of_a_model_file(store, multitask_run,
                                                      tmp_path) -> None:
    logdir, result = multitask_run
    first = logdir / "first_task" / "model_best.pth"
    evaluation = evaluate(_config(store, tmp_path, task="signet", forg=True,
                                  checkpoint=str(first)))
    assert isinstance(evaluation, EvaluationResult)
    best = max(r["val_accuracy"] for r in result.history if r["task"] == "signet_f")
    assert evaluation.checkpoint == first
    assert evaluation.metrics == {"val_accuracy": pytest.approx(best)}
    last = evaluate(_config(store, tmp_path, task="single", checkpoint=str(result.model_last)))
    assert last.metrics == {"val_precision_at_1": pytest.approx(
        result.history[-1]["val_precision_at_1"])}
    with pytest.raises(ParameterError, match=r"users=\(0, 5\): selects 5 users; .* has a "
                                             "6-user classification layer"):
        evaluate(_config(store, tmp_path, task="signet", users=(0, 5), checkpoint=str(first)))
    with pytest.raises(ParameterError, match="checkpoint=None: give the model file"):
        evaluate(_config(store, tmp_path))


def test_a_published_store_gives_default_settings_with_a_warning(tmp_path) -> None:
    store = draw_store(tmp_path / "published.npz", n_users=2, n_genuine=4, n_forgeries=0,
                       settings=None)
    with pytest.warns(DefaultSettingsWarning, match="records no preprocessing settings"):
        result = train(_config(store, tmp_path / "out", task="signet", users=(0, 2),
                               epochs=1, batch_size=4, input_size=(140, 200)))
    assert read_model_settings(result.model_best) == PreprocessingSettings(
        input_size=(140, 200))


def test_user_selection_errors_name_the_field(store, tmp_path) -> None:
    with pytest.raises(ParameterError, match=r"users=\(0, 1\): training needs at least 2 "
                                             "users, found 1"):
        train(_config(store, tmp_path, users=(0, 1)))
    with pytest.raises(ParameterError, match=r"users=\(50, 60\): selects no user of .* "
                                             r"\(users: 0\.\.5\)"):
        train(_config(store, tmp_path, users=(50, 60)))
    with pytest.raises(ParameterError, match=r"input_size=\(180, 220\): larger than the "
                                             r"stored images \(170 x 242\)"):
        train(_config(store, tmp_path, input_size=(180, 220)))
    with pytest.raises(ParameterError, match="epochs=0: must be >= 1"):
        train(_config(store, tmp_path, epochs=0))


def test_tensorboard_without_package_is_a_clear_error(store, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else object())
    with pytest.raises(ParameterError, match="tensorboard=.*pip install tensorboard"):
        train(_config(store, tmp_path, tensorboard=str(tmp_path / "tb")))
