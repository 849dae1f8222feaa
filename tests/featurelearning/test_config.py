"""``TrainConfig.validate`` names the Python field of an impossible setting."""

from __future__ import annotations

import pytest

from sigver.errors import ParameterError
from sigver.featurelearning.config import TrainConfig


def _config(**kw) -> TrainConfig:
    return TrainConfig(dataset_path="d.npz", logdir="out", **kw)


def test_defaults_are_the_published_ones_and_valid() -> None:
    config = _config()
    config.validate()
    assert (config.users, config.task, config.loss_type, config.forg_loss) == (
        (350, 881), "multi", "triplet", "eq4")
    assert (config.epochs, config.lr, config.lr_decay, config.lr_decay_times) == (
        60, 0.001, 0.1, 3)
    assert (config.margin, config.temperature, config.lamb, config.seed) == (
        0.1, 0.01, 0.95, 42)
    assert config.batch_size is None and config.input_size == (150, 220)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("epochs", 0, "epochs=0: must be >= 1"),
    ("batch_size", 1, "batch_size=1: must be >= 2"),
    ("lr", 0.0, "lr=0.0: must be > 0"),
    ("lr_decay_times", 0, "lr_decay_times=0: must be >= 1"),
    ("lamb", 1.5, r"lamb=1.5: must be in \[0, 1\]"),
    ("margin", -0.1, "margin=-0.1: must be > 0"),
    ("temperature", 0, "temperature=0: must be > 0"),
    ("workers", -1, "workers=-1: must be >= 0"),
    ("val_fraction", 1.0, r"val_fraction=1.0: must be in \(0, 1\)"),
    ("task", "both", "task='both': choose one of signet, multi, single"),
    ("loss_type", "L2", "loss_type='L2': choose one of triplet, ntxent"),
    ("forg_loss", "L1", "forg_loss='L1': choose one of eq3, eq4"),
    ("model", "resnet", "model='resnet': choose one of signet,"),
    ("users", (5, 5), r"users=\(5, 5\): the end must be greater than the start"),
    ("users", (1, 2, 3), r"users=\(1, 2, 3\): give two integers"),
    ("input_size", (150, 0), r"input_size=\(150, 0\): height and width must be >= 1"),
    ("gpu_idx", -1, "gpu_idx=-1: must be >= 0"),
])
def test_impossible_values_name_the_field(field, value, message) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        _config(**{field: value}).validate()
    assert info.value.param == field
    assert "--" not in str(info.value)


def test_fingerprint_holds_the_settings_resume_compares() -> None:
    a, b = _config(), _config(lr=0.01, workers=3, progress=False)
    assert a.fingerprint()["users"] == [350, 881]
    differing = {k for k in a.fingerprint() if a.fingerprint()[k] != b.fingerprint()[k]}
    # Workers and progress bars do not change the run.
    assert differing == {"lr"}
