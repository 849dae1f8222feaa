"""``examples/example.py``: features of one scan from a model file (docs/compatibility.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.io import imread
from skimage.util import img_as_ubyte

from sigver.featurelearning.extract import extract_features
from sigver.featurelearning.models import SigNet, SigNet_thin, load_model_file, save_model_file
from sigver.preprocessing.normalize import preprocess_signature
from sigver.settings import PreprocessingSettings, write_model_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True,
                          text=True)


def _model_file(tmp_path, cls, seed=3):
    torch.manual_seed(seed)
    model = cls()
    # Non-trivial batch-norm statistics, so that eval mode matters.
    with torch.no_grad():
        model.train()(torch.rand(4, 1, 150, 220))
    path = tmp_path / f"{cls.__name__}.pth"
    save_model_file(path, model.eval())
    return path


def test_example_matches_the_published_recipe(tmp_path, golden_dir):
    image = golden_dir / "some_signature.png"
    model_path = _model_file(tmp_path, SigNet)
    out = tmp_path / "features.npy"
    result = _run(str(image), "--model-path", str(model_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "2048 features" in result.stdout
    features = np.load(out)
    # The published recipe, written out: gray uint8, GPDS canvas, 1x1x150x220 / 255,
    # the file's first state dict in SigNet().eval().
    img = img_as_ubyte(imread(image, as_gray=True))
    inputs = torch.from_numpy(preprocess_signature(img, (952, 1360))).view(1, 1, 150, 220)
    model = SigNet().eval()
    model.load_state_dict(torch.load(model_path, weights_only=True)[0])
    with torch.no_grad():
        expected = model(inputs.float() / 255)[0].numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    # ... and the toolkit's batched extraction of the stored 170 x 242 image agrees.
    stored = preprocess_signature(img, (952, 1360), input_size=None)[None, None]
    batched = extract_features(model, stored, device="cpu", progress=False)[0]
    np.testing.assert_allclose(features, batched, rtol=1e-4, atol=1e-4)


def test_example_infers_the_architecture(tmp_path, golden_dir):
    result = _run(str(golden_dir / "a1.png"), "--model-path",
                  str(_model_file(tmp_path, SigNet_thin)))
    assert result.returncode == 0, result.stderr
    assert "1024 features" in result.stdout


def test_example_errors_are_one_line(tmp_path, golden_dir):
    missing = _run(str(golden_dir / "a1.png"), "--model-path",
                   str(tmp_path / "none.pth"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"sigver: error: --model-path {tmp_path / 'none.pth'}: "
                                      "model file not found")
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    bad = _run(str(not_image), "--model-path", str(_model_file(tmp_path, SigNet_thin)))
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"sigver: error: {not_image}: ")
    assert bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_example_takes_the_canvas_from_the_model_folder(tmp_path, golden_dir):
    folder = tmp_path / "run"
    folder.mkdir()
    model_path = _model_file(folder, SigNet_thin)
    write_model_settings(model_path, PreprocessingSettings(canvas_size=(600, 850)))
    image = golden_dir / "some_signature.png"
    out = tmp_path / "features.npy"
    result = _run(str(image), "--model-path", str(model_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    img = img_as_ubyte(imread(image, as_gray=True))
    stored = preprocess_signature(img, (600, 850), input_size=None)[None, None]
    expected = extract_features(load_model_file(model_path), stored, device="cpu",
                                progress=False)[0]
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-4, atol=1e-4)
    # --canvas must agree with the record.
    assert _run(str(image), "--model-path", str(model_path), "--canvas", "600", "850",
                "--out", str(out)).returncode == 0
    wrong = _run(str(image), "--model-path", str(model_path), "--canvas", "952", "1360")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("sigver: error: --canvas 952 1360: contradicts 600 850 "
                                   "recorded in the model folder of ")
    assert wrong.stderr.count("\n") == 1


def test_example_warns_once_for_a_model_recording_nothing(tmp_path, golden_dir):
    model_path = _model_file(tmp_path, SigNet_thin)
    result = _run(str(golden_dir / "a1.png"), "--model-path", str(model_path))
    assert result.returncode == 0
    assert result.stderr == (f"sigver: warning: the model folder of {model_path} records no "
                             "preprocessing settings; using the default canvas 952 x 1360 "
                             "(GPDS)\n")
