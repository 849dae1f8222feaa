"""ONNX exports: parity with PyTorch, metadata, int8, verification without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from onnx_helpers import GOLDEN_CANVAS, golden_images, random_model_file
from sigver.datasets.util import save_dataset
from sigver.deploy.engines import OnnxEngine, TorchEngine, open_engine
from sigver.deploy.export import export_onnx
from sigver.errors import SigverError
from sigver.io import file_sha256
from sigver.settings import DefaultSettingsWarning, PreprocessingSettings, write_model_settings
from sigver.synthetic.generate import synthesize
from sigver.wd.training import train_test_all_users as wd_fold
from sigver.wi.training import train_test_all_users as wi_fold

SRC = Path(__file__).resolve().parents[2] / "src"
ARCHITECTURES = ("signet", "signet_thin", "signet_smaller")
SETTINGS = PreprocessingSettings(canvas_size=GOLDEN_CANVAS)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small synthetic store (real preprocessing), 6 writers x (8 genuine + 3 skilled)."""
    data = synthesize(6, 8, 3, seed=3, progress=False)
    path = tmp_path_factory.mktemp("store") / "synth.npz"
    save_dataset(path, data["x"], data["y"], data["yforg"], data["user_mapping"],
                 data["filenames"])
    return path, data


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Per architecture: a random-weight model file (settings recorded) and its export."""
    folder = tmp_path_factory.mktemp("exports")
    out = {}
    for seed, name in enumerate(ARCHITECTURES):
        (folder / name).mkdir()
        model = random_model_file(folder / name / "model.pth", name, seed=seed)
        write_model_settings(model, SETTINGS)
        result = export_onnx(model, folder / name / "model.onnx")
        out[name] = (model, result)
    return out


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_float32_features_equal_pytorch(exports, store, golden_dir, name):
    model, result = exports[name]
    torch_engine, onnx_engine = TorchEngine(model, device="cpu"), OnnxEngine(result.path)
    assert onnx_engine.architecture == name and onnx_engine.matches(torch_engine.sha256)
    for x in (golden_images(golden_dir), store[1]["x"]):
        expected = torch_engine.features(x, batch_size=8)
        got = onnx_engine.features(x, batch_size=5)  # batching differs on purpose
        assert got.shape == expected.shape == (len(x), onnx_engine.feature_dim)
        error = np.abs(got - expected).max()
        assert error <= 1e-4
        assert error <= 1e-5 * np.abs(expected).max()  # meaningful whatever the scale


def test_the_feature_power_is_part_of_the_exported_graph(store, tmp_path):
    model = random_model_file(tmp_path / "model.pth", "signet_thin", seed=5,
                              feature_power=0.5)
    write_model_settings(model, SETTINGS)
    result = export_onnx(model, tmp_path / "model.onnx")
    x = store[1]["x"]
    expected = TorchEngine(model, device="cpu").features(x, batch_size=8)
    plain = random_model_file(tmp_path / "plain.pth", "signet_thin", seed=5)
    unpowered = TorchEngine(plain, device="cpu").features(x, batch_size=8)
    np.testing.assert_allclose(expected, np.sqrt(unpowered), rtol=1e-4, atol=1e-5)
    got = OnnxEngine(result.path).features(x, batch_size=5)
    assert np.abs(got - expected).max() <= 1e-4


def test_wd_and_wi_metrics_identical_on_the_same_folds(exports, store):
    model, result = exports["signet_thin"]
    _, data = store
    y, yforg = data["y"], data["yforg"]
    features = {kind: engine.features(data["x"]) for kind, engine in
                (("torch", TorchEngine(model, device="cpu")), ("onnx", OnnxEngine(result.path)))}
    metrics = {}
    for kind, x in features.items():
        def sets(first_dev, x=x):
            exp, dev = y < first_dev, y >= first_dev
            return (x[exp], y[exp], yforg[exp]), (x[dev], y[dev], yforg[dev])

        _, wd = wd_fold(*sets(4), "rbf", 1, 2 ** -11, 4, 2, 8, 3,
                        rng=np.random.RandomState(1))
        _, wi = wi_fold(*sets(3), "rbf", 1, 2 ** -11, 5, 4, 2, "max",
                        rng=np.random.RandomState(1))
        metrics[kind] = {f"{protocol}_{key}": round(float(value), 3)
                         for protocol, results in (("wd", wd), ("wi", wi))
                         for key, value in results["all_metrics"].items()
                         if np.ndim(value) == 0}
    assert "wd_EER_userthresholds" in metrics["torch"] and "wi_EER" in metrics["torch"]
    assert metrics["onnx"] == metrics["torch"]


def test_metadata_round_trip_and_checker(exports, tmp_path):
    model, result = exports["signet_smaller"]
    proto = onnx.load(result.path)
    onnx.checker.check_model(proto, full_check=True)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["sigver.source_sha256"] == file_sha256(model) == result.metadata.source_sha256
    assert PreprocessingSettings.from_json(props["sigver.preprocessing"]) == SETTINGS
    assert props["sigver.architecture"] == "signet_smaller"
    assert props["sigver.feature_dim"] == "2048" and props["sigver.precision"] == "float32"
    assert result.sha256 == file_sha256(result.path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 150, 220]
    assert OnnxEngine(result.path).metadata == result.metadata
    # a model without recorded settings: the defaults, with the warning
    bare = random_model_file(tmp_path / "bare.pth", "signet_thin", seed=5)
    with pytest.warns(DefaultSettingsWarning, match="records no preprocessing settings"):
        default = export_onnx(bare, tmp_path / "bare.onnx")
    assert default.metadata.settings == PreprocessingSettings()
    with pytest.raises(SigverError, match=r"canvas_size=\(500, 700\): contradicts 1000 1500"):
        export_onnx(model, tmp_path / "x.onnx", settings=PreprocessingSettings((500, 700)))
    assert not (tmp_path / "x.onnx").exists()


def test_int8_export_is_smaller_and_close(exports, store, tmp_path):
    model, fp32 = exports["signet_thin"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultSettingsWarning)
        result = export_onnx(model, tmp_path / "int8.onnx", int8=True,
                             calibration_data=store[0], calibration_images=40)
    meta = result.metadata
    assert meta.precision == "int8" and meta.calibration == {
        "store": "synth.npz", "images": 40, "method": "minmax"}
    assert result.size_bytes < 0.35 * fp32.size_bytes
    ops = {node.op_type for node in onnx.load(result.path).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = store[1]["x"]
    expected = OnnxEngine(fp32.path).features(x)
    engine = open_engine(result.path)
    assert engine.precision == "int8" and engine.matches(file_sha256(model))
    got = engine.features(x)
    cosine = np.sum(got * expected, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(
        expected, axis=1)
    assert cosine.min() > 0.99
    assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()
    # the calibration store must be preprocessed like the model's data
    other = tmp_path / "other.npz"
    save_dataset(other, x[:4], np.zeros(4, int), np.zeros(4, int), [0], list("abcd"),
                 settings=PreprocessingSettings())
    with pytest.raises(SigverError, match="calibration_data=.*other.npz.*canvas 952 x 1360"):
        export_onnx(model, tmp_path / "bad.onnx", int8=True, calibration_data=other)


def test_export_command(exports, tmp_path, capsys):
    from sigver.cli import main

    model, _ = exports["signet_thin"]
    out = tmp_path / "cli.onnx"
    assert main(["export", "--model-path", str(model), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: signet_thin, float32, 1024 "
                                              "features, input uint8 N x 1 x 150 x 220")
    for argv, message in (
            (["--int8"], "--calibration-data: an int8 export needs a dataset store"),
            (["--canvas-size", "500", "700"], "--canvas-size 500 700: contradicts"),
            (["--model", "signet"], "do not fit --model signet")):
        assert main(["export", "--model-path", str(model), "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(model.read_bytes()[:1000])
    assert main(["export", "--model-path", str(truncated), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "truncated.pth: not a readable model file" in err and err.count("\n") == 1


def test_verification_with_an_onnx_model_never_imports_torch(exports, golden_dir, tmp_path):
    from sigver.verification.persistence import TrainedVerifier, save_verifier
    from sigver.wi.classifier import DichotomyClassifier

    model, result = exports["signet_thin"]
    references = TorchEngine(model, device="cpu").features(golden_images(golden_dir))
    rng = np.random.default_rng(0)
    diffs = np.abs(rng.normal(0, 1, (40, 1024)))
    labels = np.r_[np.ones(20), -np.ones(20)]
    diffs[:20] *= 0.2
    clf = DichotomyClassifier("rbf", gamma=1 / 1024).fit(diffs, labels)
    classifier = tmp_path / "wi.clf"
    save_verifier(classifier, TrainedVerifier(clf, 0.0, file_sha256(model), 1024))
    np.save(tmp_path / "refs.npy", references)
    scan = sorted(golden_dir.glob("*.png"))[0]
    code = f"""
import sys
import numpy as np
from sigver.deploy.engines import open_engine
from sigver.preprocessing.imageio import read_signature_image
from sigver.preprocessing.normalize import preprocess_signature
from sigver.verification.persistence import load_verifier

engine = open_engine({str(result.path)!r})
verifier = load_verifier({str(classifier)!r})
assert engine.matches(verifier.model_sha256)
image = preprocess_signature(read_signature_image({str(scan)!r}), {GOLDEN_CANVAS!r},
                             input_size=None)
questioned = engine.features(image[None, None])
fused, pair = verifier.score(questioned, np.load({str(tmp_path / 'refs.npy')!r}))
print(float(pair[0, 0]), sorted(m for m in ("torch", "sklearn", "skops") if m in sys.modules))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC)})
    assert run.returncode == 0, run.stderr
    score, modules = run.stdout.split(" ", 1)
    assert json.loads(modules.strip().replace("'", '"')) == []
    # the first golden scan is the first reference: same features, same score in-process
    expected = load_scorer_score(classifier, references)
    assert float(score) == pytest.approx(expected, abs=1e-6)


def load_scorer_score(classifier: Path, references: np.ndarray) -> float:
    from sigver.verification.persistence import load_verifier

    return float(load_verifier(classifier).score(references[:1], references)[1][0, 0])
