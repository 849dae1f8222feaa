"""Model architectures and the published 3-tuple model-file format (docs/models-and-training.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sigver.errors import SigverError
from sigver.featurelearning.extract import extract_features, fold_batch_norm
from sigver.featurelearning.models import (
    SigNet,
    SigNet_smaller,
    SigNet_thin,
    available_models,
    infer_model_name,
    load_model_file,
    load_model_parts,
    save_model_file,
)

SIZES = {"signet": 2048, "signet_thin": 1024, "signet_smaller": 2048}


def _randomise_batch_norm(model: nn.Module, seed: int) -> None:
    """Give batch norms non-trivial statistics so that a wrong load would show."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=gen) * 0.1)
            module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            module.weight.data.copy_(0.5 + torch.rand(n, generator=gen))
            module.bias.data.copy_(torch.rand(n, generator=gen) * 0.1)


def test_published_parameter_names() -> None:
    keys = set(SigNet().state_dict())
    for key in ("conv_layers.conv1.conv.weight", "conv_layers.conv1.bn.running_mean",
                "conv_layers.conv5.bn.num_batches_tracked", "fc_layers.fc1.fc.weight",
                "fc_layers.fc2.bn.weight"):
        assert key in keys
    assert not any(key.endswith("conv.bias") or key.endswith("fc.bias") for key in keys)
    assert "conv_layers.conv4.conv.weight" not in SigNet_smaller().state_dict()
    assert "fc_layers.fc2.fc.weight" not in SigNet_smaller().state_dict()
    assert SigNet().state_dict()["fc_layers.fc1.fc.weight"].shape == (2048, 3840)
    assert SigNet_thin().state_dict()["fc_layers.fc1.fc.weight"].shape == (1024, 1920)


@pytest.mark.parametrize("name", sorted(available_models))
def test_published_tuple_file_loads_with_same_features(tmp_path, name: str) -> None:
    torch.manual_seed(0)
    model = available_models[name]()
    _randomise_batch_norm(model, 1)
    model.eval()
    path = tmp_path / "model.pth"
    # The published layout, written exactly as the research code does.
    torch.save((model.state_dict(), {}, {}), path)
    loaded = load_model_file(path)
    assert not loaded.training
    assert infer_model_name(model.state_dict()) == name
    x = np.random.RandomState(0).randint(0, 256, (5, 1, 170, 242)).astype(np.uint8)
    crop = torch.from_numpy(x[:, :, 10:160, 11:231].astype(np.float32) / 255)
    with torch.no_grad():
        expected = model(crop).numpy()
    got = extract_features(loaded, x, batch_size=2, device="cpu", progress=False)
    assert got.shape == (5, SIZES[name]) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_fold_batch_norm_keeps_outputs_and_model() -> None:
    torch.manual_seed(1)
    model = SigNet_thin()
    _randomise_batch_norm(model, 2)
    model.eval()
    x = torch.rand(3, 1, 150, 220)
    fused = fold_batch_norm(model)
    with torch.no_grad():
        np.testing.assert_allclose(fused(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)
    assert isinstance(model.conv_layers.conv1.bn, nn.BatchNorm2d)


def test_save_model_file_round_trip_with_heads(tmp_path) -> None:
    model, clf, forg = SigNet_smaller(), nn.Linear(2048, 7), nn.Linear(2048, 1)
    path = tmp_path / "m.pth"
    save_model_file(path, model, clf, forg)
    parts = torch.load(path, weights_only=True)
    assert isinstance(parts, tuple) and len(parts) == 3
    loaded = load_model_parts(path)
    assert loaded.name == "signet_smaller"
    assert loaded.classification_layer.out_features == 7
    assert torch.equal(loaded.forgery_layer.weight, forg.weight)
    assert list(tmp_path.iterdir()) == [path]


def test_bad_model_files_get_one_line_errors(tmp_path) -> None:
    good = tmp_path / "good.pth"
    save_model_file(good, SigNet_thin())
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:5000])
    text = tmp_path / "text.pth"
    text.write_text("not a model")
    cases = {truncated: "not a readable model file", text: "not a readable model file",
             tmp_path / "missing.pth": "not found"}
    for path, message in cases.items():
        with pytest.raises(SigverError, match=message) as err:
            load_model_file(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)
    with pytest.raises(SigverError, match="do not fit --model signet .*signet_thin"):
        load_model_file(good, "signet")
    odd = tmp_path / "odd.pth"
    state = SigNet_thin().state_dict()
    state.pop("fc_layers.fc2.fc.weight")
    torch.save((state, {}, {}), odd)
    with pytest.raises(SigverError, match="match none of the architectures"):
        load_model_file(odd)
    pickled = tmp_path / "pickled.pth"
    torch.save((SigNet_thin(), {}, {}), pickled)
    with pytest.raises(SigverError, match="not a readable model file"):
        load_model_file(pickled)
