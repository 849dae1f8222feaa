"""``sigver extract``: the feature file, its provenance and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sigver.cli import extract as extract_cli
from sigver.cli import main as sigver_main
from sigver.datasets.util import save_dataset
from sigver.errors import ParameterError, SigverError
from sigver.featurelearning.extract import extract_features, extract_store
from sigver.featurelearning.models import SigNet_thin, load_model_file, save_model_file
from sigver.features import load_features, save_features
from sigver.io import file_sha256
from sigver.settings import PreprocessingSettings, write_model_settings


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
         "--input-size 180 220: larger than the images (170 x 242)"),
        (["extract", "--model-path", str(files / "store" / "x.npy"), "--data-path",
          str(files / "store"), "--out", str(files / "f.npz")],
         # neither a PyTorch file nor an ONNX export: refused before any work starts
         "x.npy: not a readable model file (a single .npy array)"),
        ([*base, "--out", str(files / "f.npz"), "--engine", "torch", "--model-path",
          str(files / "store" / "x.npy")], "not a readable model file"),
    ]
    for argv, message in cases:
        assert sigver_main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert not (files / "f.npz").exists()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, files):
    """A store that records its settings (canvas 600 x 850, input 150 x 220)."""
    folder = tmp_path_factory.mktemp("recorded")
    x = np.load(files / "store" / "x.npy")
    settings = PreprocessingSettings(canvas_size=(600, 850))
    save_dataset(folder / "store.npz", x, [0, 0, 1, 1, 2, 2, 2], [0, 1, 0, 0, 0, 1, 0],
                 [10, 20, 30], [f"f{i}" for i in range(7)], settings=settings)
    return folder / "store.npz", settings


def test_extract_takes_the_settings_from_the_store(files, recorded, tmp_path) -> None:
    store, settings = recorded
    features = extract_store(files / "model.pth", store, device="cpu", progress=False)
    assert features.settings == settings
    # The feature file keeps them ...
    save_features(tmp_path / "f.npz", features)
    again = load_features(tmp_path / "f.npz")
    assert again.settings == settings
    np.testing.assert_array_equal(again.features, features.features)
    # ... and features of a store without settings record none.
    plain = extract_store(files / "model.pth", files / "store", device="cpu", progress=False)
    assert plain.settings is None
    save_features(tmp_path / "plain.npz", plain)
    assert load_features(tmp_path / "plain.npz").settings is None
    np.testing.assert_allclose(plain.features, features.features, rtol=1e-5, atol=1e-6)


def test_feature_files_without_settings_still_load(files, tmp_path) -> None:
    # A file written before settings were recorded: the five published keys only.
    np.savez(tmp_path / "old.npz", features=np.ones((2, 3), np.float32), y=[0, 1],
             yforg=[0, 0], filenames=np.array(["a", "b"]), model_sha256=np.array("ab"))
    old = load_features(tmp_path / "old.npz")
    assert old.settings is None and old.features.shape == (2, 3)


def test_extract_refuses_an_input_size_contradicting_the_store(files, recorded,
                                                               capsys) -> None:
    store, _ = recorded
    with pytest.raises(ParameterError, match=r"input_size=\(140, 200\): contradicts 150 220 "
                       "recorded in the dataset store"):
        extract_store(files / "model.pth", store, input_size=(140, 200), device="cpu",
                      progress=False)
    assert sigver_main(["extract", "--model-path", str(files / "model.pth"), "--data-path",
                        str(store), "--out", str(store.parent / "f.npz"), "--input-size",
                        "140", "200", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigver: error: --input-size 140 200: contradicts 150 220")
    assert err.count("\n") == 1
    # Agreeing with the record is fine.
    same = extract_store(files / "model.pth", store, input_size=(150, 220), device="cpu",
                         progress=False)
    assert same.settings.input_size == (150, 220)


def test_extract_refuses_a_model_trained_on_another_canvas(files, recorded, tmp_path) -> None:
    store, settings = recorded
    model = tmp_path / "run" / "model_best.pth"
    model.parent.mkdir()
    model.write_bytes((files / "model.pth").read_bytes())
    write_model_settings(model, PreprocessingSettings(canvas_size=(952, 1360)))
    with pytest.raises(SigverError, match=r"prepared with canvas 600 x 850, but the model "
                       r".*model_best.pth was trained on images prepared with canvas "
                       r"952 x 1360 \(recorded in .*preprocessing.json\)"):
        extract_store(model, store, device="cpu", progress=False)
    write_model_settings(model, settings)
    assert extract_store(model, store, device="cpu", progress=False).settings == settings


def test_extract_help_shows_its_own_prog(capsys) -> None:
    with pytest.raises(SystemExit):
        extract_cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: sigver extract ")
    assert "(default: the one the store records" in out
    with pytest.raises(SystemExit):
        extract_cli.main(["--help"], prog=extract_cli.MODULE_PROG)
    assert capsys.readouterr().out.startswith(
        "usage: python -m sigver.featurelearning.extract ")
    assert all(action.help for action in extract_cli.build_parser()._actions)


@pytest.fixture(scope="module")
def onnx_export(files, recorded, tmp_path_factory):
    """The module's model exported to ONNX, recording the ``recorded`` store's settings."""
    pytest.importorskip("onnxruntime")
    from sigver.deploy.export import export_onnx

    _, settings = recorded
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(files / "model.pth", out, settings=settings).path


@pytest.mark.slow
def test_extract_with_the_onnx_engine_gives_the_torch_features(files, recorded, onnx_export,
                                                               tmp_path, capsys) -> None:
    store, settings = recorded
    torch_out, onnx_out = tmp_path / "torch.npz", tmp_path / "onnx.npz"
    base = ["extract", "--data-path", str(store), "--batch-size", "3", "--no-progress"]
    assert sigver_main([*base, "--model-path", str(files / "model.pth"), "--out",
                        str(torch_out)]) == 0
    assert sigver_main([*base, "--model-path", str(onnx_export), "--engine", "onnx",
                        "--out", str(onnx_out)]) == 0
    by_torch, by_onnx = load_features(torch_out), load_features(onnx_out)
    np.testing.assert_allclose(by_onnx.features, by_torch.features, atol=1e-4, rtol=0)
    # the export is the same model: the feature file records the PyTorch file's identity
    assert by_onnx.model_sha256 == by_torch.model_sha256 == file_sha256(files / "model.pth")
    assert by_onnx.settings == by_torch.settings == settings
    # --engine auto recognises the export by its content
    auto = extract_store(onnx_export, store, progress=False)
    np.testing.assert_array_equal(auto.features, by_onnx.features)


@pytest.mark.slow
def test_extract_with_the_onnx_engine_refuses_what_the_export_contradicts(
        files, recorded, onnx_export, capsys) -> None:
    store, _ = recorded
    base = ["extract", "--model-path", str(onnx_export), "--out", str(store.parent / "x.npz"),
            "--no-progress"]
    cases = [
        # the export records canvas 600 x 850; the plain store's images are another size
        (["--data-path", str(files / "store"), "--input-size", "140", "200"],
         "--input-size 140 200: " f"{onnx_export} was exported for 150 x 220 inputs"),
        (["--data-path", str(store), "--bf16"], "--bf16: only for PyTorch model files"),
        (["--data-path", str(store), "--engine", "onnx", "--model-path",
          str(files / "model.pth")], "is a PyTorch model file, not an ONNX export"),
    ]
    for argv, message in cases:
        assert sigver_main([*base, *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    other = store.parent / "other_canvas.npz"
    x = np.load(files / "store" / "x.npy")
    save_dataset(other, x, [0] * 7, [0] * 7, [1], [f"f{i}" for i in range(7)],
                 settings=PreprocessingSettings(canvas_size=(952, 1360)))
    with pytest.raises(SigverError, match=r"prepared with canvas 952 x 1360, but the model "
                       r".*model.onnx was trained on images prepared with canvas 600 x 850 "
                       r"\(recorded in its metadata\)"):
        extract_store(onnx_export, other, progress=False)
