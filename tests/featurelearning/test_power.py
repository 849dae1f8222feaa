"""The power normalisation a model file may record (``feature_power``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sigver.errors import ParameterError, SigverError
from sigver.featurelearning.extract import extract_features
from sigver.featurelearning.models import (
    FEATURE_POWER_KEY,
    PowerNormalization,
    SigNet_thin,
    load_model_parts,
    read_model_file,
    save_model_file,
)
from sigver.pretrained.storage import save_half_model


def _images(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 1, 150, 220), dtype=np.uint8)


def _model(seed: int = 0) -> SigNet_thin:
    torch.manual_seed(seed)
    return SigNet_thin().eval()


def test_signed_power_of_each_entry() -> None:
    x = torch.tensor([[-4.0, 0.0, 0.25, 9.0]])
    assert torch.equal(PowerNormalization(0.5)(x), torch.tensor([[-2.0, 0.0, 0.5, 3.0]]))


def test_files_without_the_entry_keep_the_published_layout(tmp_path) -> None:
    path = tmp_path / "m.pth"
    save_model_file(path, _model())
    features, _, _ = read_model_file(path)
    assert FEATURE_POWER_KEY not in features
    assert load_model_parts(path).model.feature_power is None


def test_the_power_travels_with_the_file_and_applies_at_extraction(tmp_path) -> None:
    model = _model()
    plain = extract_features(model, _images(), device="cpu", progress=False)
    model.feature_power = 0.5
    path = tmp_path / "m.pth"
    save_model_file(path, model)
    loaded = load_model_parts(path).model
    assert loaded.feature_power == 0.5
    powered = extract_features(loaded, _images(), device="cpu", progress=False)
    assert plain.min() >= 0 and np.count_nonzero(plain) > plain.size // 10
    np.testing.assert_allclose(powered, np.sqrt(plain), rtol=1e-5, atol=1e-6)
    # the network's own output (what training's heads see) is not normalised
    with torch.no_grad():
        raw = loaded(torch.from_numpy(_images()).float().div(255)).numpy()
    np.testing.assert_allclose(raw, plain, rtol=1e-4, atol=1e-5)


def test_a_bad_power_in_a_file_is_one_line(tmp_path) -> None:
    state = _model().state_dict()
    for value, message in ((torch.tensor(1.5), "within"), (torch.ones(3), "single number")):
        path = tmp_path / "bad.pth"
        torch.save(({**state, FEATURE_POWER_KEY: value}, {}, {}), path)
        with pytest.raises(SigverError, match=message) as err:
            load_model_parts(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_half_storage_keeps_or_sets_the_power(tmp_path) -> None:
    source = tmp_path / "source.pth"
    model = _model()
    model.feature_power = 0.5
    save_model_file(source, model)
    kept, set_ = tmp_path / "kept.pth", tmp_path / "set.pth"
    save_half_model(source, kept)
    save_half_model(source, set_, feature_power=0.25)
    assert read_model_file(kept)[0][FEATURE_POWER_KEY].dtype == torch.float32
    assert load_model_parts(kept).model.feature_power == 0.5
    assert load_model_parts(set_).model.feature_power == 0.25
    with pytest.raises(ParameterError, match="^feature_power=0"):
        save_half_model(source, tmp_path / "x.pth", feature_power=0)
    assert not (tmp_path / "x.pth").exists()
