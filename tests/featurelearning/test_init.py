"""Fine-tuning from a model file or the built-in model (``TrainConfig.init``,
``sigver train --init``)."""

from __future__ import annotations

import pytest
import torch

from sigver.errors import ParameterError
from sigver.featurelearning.models import load_model_parts
from sigver.featurelearning.train import TrainConfig, init_model_path, train
from sigver.pretrained import model_path
from training_helpers import draw_store

# So small a step that the weights after one epoch are those the run started from.
FROZEN_LR = 1e-12


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return draw_store(tmp_path_factory.mktemp("store") / "toy.npz")


@pytest.fixture(scope="module")
def source(store, tmp_path_factory):
    """A SigNet-F model file (with both heads) trained on users 0-5."""
    logdir = tmp_path_factory.mktemp("source")
    return train(_config(store, logdir, forg=True)).model_best


def _config(store, logdir, **kw) -> TrainConfig:
    base = {"dataset_path": str(store), "logdir": str(logdir), "users": (0, 6),
            "epochs": 1, "batch_size": 12, "device": "cpu", "progress": False,
            "model": "signet_thin", "task": "signet"}
    return TrainConfig(**{**base, **kw})


@pytest.mark.slow
def test_init_starts_from_the_file_and_keeps_fitting_heads(store, source, tmp_path) -> None:
    result = train(_config(store, tmp_path, forg=True, init=str(source), lr=FROZEN_LR))
    before, after = load_model_parts(source), load_model_parts(result.model_last)
    conv = "conv_layers.conv1.conv.weight"
    assert torch.allclose(before.model.state_dict()[conv], after.model.state_dict()[conv])
    # same 6 users: the classification and forgery layers carry over
    assert torch.allclose(before.classification_layer.weight,
                          after.classification_layer.weight)
    assert torch.allclose(before.forgery_layer.weight, after.forgery_layer.weight)


@pytest.mark.slow
def test_init_with_other_users_starts_fresh_heads(store, source, tmp_path) -> None:
    result = train(_config(store, tmp_path, users=(0, 4), init=str(source), lr=FROZEN_LR))
    before, after = load_model_parts(source), load_model_parts(result.model_last)
    conv = "conv_layers.conv1.conv.weight"
    assert torch.allclose(before.model.state_dict()[conv], after.model.state_dict()[conv])
    assert after.classification_layer.out_features == 4
    assert not torch.allclose(before.classification_layer.weight[:4],
                              after.classification_layer.weight)


def test_init_and_checkpoint_together_are_refused(store, tmp_path) -> None:
    with pytest.raises(ParameterError, match="^init="):
        _config(store, tmp_path, init="a.pth", checkpoint="b.pth").validate()


@pytest.mark.slow
def test_default_names_the_built_in_model(store, tmp_path) -> None:
    assert init_model_path("default") == str(model_path())
    result = train(_config(store, tmp_path, model=None, init="default", lr=FROZEN_LR))
    built_in = load_model_parts(model_path())
    tuned = load_model_parts(result.model_last)
    assert tuned.name == "signet_thin"
    # the fine-tuned file keeps the built-in model's power normalisation
    assert tuned.model.feature_power == built_in.model.feature_power == 0.5
    conv = "conv_layers.conv1.conv.weight"
    assert torch.allclose(built_in.model.state_dict()[conv], tuned.model.state_dict()[conv])


@pytest.mark.slow
def test_the_command_names_init_in_its_errors(store, source, tmp_path, capsys) -> None:
    from sigver.cli import main as sigver_main

    base = ["train", "--dataset-path", str(store), "--logdir", str(tmp_path / "run"),
            "--users", "0", "6", "--epochs", "1", "--no-progress"]
    assert sigver_main([*base, "--init", str(source), "--checkpoint", str(source)]) == 2
    assert "--init" in capsys.readouterr().err
    assert sigver_main([*base, "--init", str(tmp_path / "missing.pth")]) == 2
    err = capsys.readouterr().err
    assert "--init" in err and "missing.pth" in err
