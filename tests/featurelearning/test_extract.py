"""``sigver extract``: the feature file, its provenance and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sigver.cli import main as sigver_main
from sigver.datasets.util import save_dataset
from sigver.featurelearning.extract import extract_features, extract_store
from sigver.featurelearning.models import SigNet_thin, load_model_file, save_model_file
from sigver.features import load_features
from sigver.io import file_sha256


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extract")
    rng = np.random.RandomState(3)
    x = (rng.rand(7, 1, 170, 242) < 0.05).astype(np.uint8) * 255
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    yforg = np.array([0, 1, 0, 0, 0, 1, 0])
    save_dataset(folder / "store", x, y, yforg, [10, 20, 30], [f"f{i}" for i in range(7)])
    torch.manual_seed(0)
    save_model_file(folder / "model.pth", SigNet_thin().eval())
    return folder


def test_extract_command_writes_feature_file(files, capsys) -> None:
    out = files / "features.npz"
    status = sigver_main(["extract", "--model-path", str(files / "model.pth"), "--data-path",
                          str(files / "store"), "--out", str(out), "--batch-size", "3",
                          "--no-progress"])
    assert status == 0
    features = load_features(out)
    assert features.features.shape == (7, 1024) and features.features.dtype == np.float32
    assert features.y.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert features.yforg.tolist() == [0, 1, 0, 0, 0, 1, 0]
    assert features.filenames[3] == "f3"
    assert features.model_sha256 == file_sha256(files / "model.pth")
    # Batching must not change the result: one image at a time gives the same rows.
    model = load_model_file(files / "model.pth")
    x = np.load(files / "store" / "x.npy", mmap_mode="r")
    single = extract_features(model, x, batch_size=1, device="cpu", progress=False)
    np.testing.assert_allclose(features.features, single, rtol=1e-4, atol=1e-5)


def test_extract_store_selects_users(files) -> None:
    subset = extract_store(files / "model.pth", files / "store", users=(1, 3), device="cpu",
                           progress=False)
    assert subset.y.tolist() == [1, 1, 2, 2, 2]


def test_extract_errors_are_one_line(files, capsys) -> None:
    base = ["extract", "--model-path", str(files / "model.pth"), "--data-path",
            str(files / "store")]
    cases = [
        ([*base, "--out", str(files / "f.txt")], "feature files are .npz"),
        ([*base, "--out", str(files / "f.npz"), "--model", "signet"], "do not fit --model"),
        ([*base, "--out", str(files / "f.npz"), "--input-size", "180", "220"],
         "larger than the stored images"),
        (["extract", "--model-path", str(files / "store" / "x.npy"), "--data-path",
          str(files / "store"), "--out", str(files / "f.npz")], "not a readable model file"),
    ]
    for argv, message in cases:
        assert sigver_main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert not (files / "f.npz").exists()
