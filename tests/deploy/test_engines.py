"""Feature engines: opening ONNX files, their checks and one-line errors (no export needed)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from onnx_helpers import random_model_file, tiny_onnx
from sigver.deploy.engines import OnnxEngine, TorchEngine, center_crop, open_engine
from sigver.deploy.export import export_onnx
from sigver.deploy.metadata import ExportMetadata
from sigver.errors import SigverError
from sigver.settings import PreprocessingSettings

SHA = "0123456789abcdef" * 4


def signet_props(**override: str) -> dict[str, str]:
    meta = ExportMetadata(architecture="signet_thin", feature_dim=4,
                          settings=PreprocessingSettings(), source_sha256=SHA)
    props = meta.to_props()
    props.update({f"sigver.{k}": v for k, v in override.items()})
    return {k: v for k, v in props.items() if v is not None}


def test_an_export_like_file_opens_and_computes(tmp_path):
    engine = open_engine(tiny_onnx(tmp_path / "ok.onnx", props=signet_props()))
    assert isinstance(engine, OnnxEngine)
    assert (engine.kind, engine.feature_dim, engine.source_sha256) == ("onnx", 4, SHA)
    assert engine.settings.input_size == (150, 220)
    assert engine.matches(SHA) and engine.matches(engine.sha256) and not engine.matches("f" * 64)
    x = np.zeros((5, 1, 170, 242), dtype=np.uint8)
    x[:, :, 10:160, 11:231] = np.arange(5, dtype=np.uint8)[:, None, None, None] * 10
    x[:, :, 0, 0] = 255  # outside the centre crop: must not count
    features = engine.features(x, batch_size=2)
    assert features.dtype == np.float32 and features.shape == (5, 4)
    np.testing.assert_allclose(features[:, 0], np.arange(5) * 10, rtol=1e-6)
    with pytest.raises(SigverError, match=r"input_size=\(140, 200\): .*exported for 150 x 220"):
        engine.features(x, input_size=(140, 200))
    with pytest.raises(SigverError, match="must be uint8"):
        engine.features(x.astype(np.float32))
    with pytest.raises(SigverError, match="batch_size=0"):
        engine.features(x, batch_size=0)


def test_center_crop_is_the_stored_images_middle():
    x = np.arange(2 * 1 * 6 * 7, dtype=np.uint8).reshape(2, 1, 6, 7)
    crop = center_crop(x, 1, 2, (4, 4))
    np.testing.assert_array_equal(crop, x[1:2, :, 1:5, 1:5])
    assert crop.flags.c_contiguous


@pytest.mark.parametrize(("name", "make", "message"), [
    ("plain.onnx", lambda p: tiny_onnx(p), "not a SigNet export of sigver .*no sigver.format"),
    ("nofeat.onnx", lambda p: tiny_onnx(p, props=signet_props(feature_dim=None)),
     "incomplete SigNet export, the metadata lacks sigver.feature_dim"),
    ("shape.onnx", lambda p: tiny_onnx(p, props=signet_props(), shape=("N", 1, 100, 100)),
     "it takes images tensor\\(uint8\\) N x 1 x 100 x 100, expected one uint8 input "
     "N x 1 x 150 x 220"),
    ("float.onnx", lambda p: tiny_onnx(p, props=signet_props(), elem="float"),
     "it takes images tensor\\(float\\)"),
    ("dim.onnx", lambda p: tiny_onnx(p, props=signet_props(), out_dim=8),
     "returns features tensor\\(float\\) N x 8, expected one float output N x 4"),
    ("sha.onnx", lambda p: tiny_onnx(p, props=signet_props(source_sha256="abc")),
     "source_sha256 is not a SHA-256"),
    ("version.onnx", lambda p: tiny_onnx(p, props=signet_props(format_version="9")),
     "export format version 9, this sigver reads 1"),
])
def test_files_that_are_not_signet_exports_are_one_line_errors(tmp_path, name, make,
                                                                message):
    path = make(tmp_path / name)
    with pytest.raises(SigverError, match=message) as info:
        open_engine(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_truncated_missing_and_pytorch_files(tmp_path):
    good = tiny_onnx(tmp_path / "ok.onnx", props=signet_props())
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(SigverError, match="truncated.onnx: not a readable ONNX model") as info:
        open_engine(truncated)
    assert "\n" not in str(info.value)
    with pytest.raises(SigverError, match="gone.onnx: ONNX model file not found"):
        open_engine(tmp_path / "gone.onnx")
    model = random_model_file(tmp_path / "model.pth", "signet_thin")
    with pytest.raises(SigverError, match="engine='onnx': .*model.pth is a PyTorch model"):
        open_engine(model, "onnx")
    engine = open_engine(model, device="cpu")
    assert isinstance(engine, TorchEngine) and engine.source_sha256 == engine.sha256
    assert engine.architecture == "signet_thin" and engine.settings is None
    with pytest.raises(SigverError, match="threads=2: only for the ONNX engine"):
        open_engine(model, threads=2)
    with pytest.raises(SigverError, match="engine='tf'"):
        open_engine(model, "tf")
    with pytest.raises(SigverError, match="model_name='signet': only for PyTorch"):
        open_engine(good, model_name="signet")


def test_missing_extra_is_a_one_line_error_naming_it(tmp_path, monkeypatch):
    good = tiny_onnx(tmp_path / "ok.onnx", props=signet_props())
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(SigverError, match=r"the ONNX engine needs the optional package "
                                          r"'onnxruntime', .*pip install 'sigver\[onnx\]'"):
        open_engine(good)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(SigverError, match=r"ONNX export needs the optional package 'onnx'"):
        export_onnx(tmp_path / "model.pth", tmp_path / "out.onnx")


def test_int8_without_calibration_data_is_refused_before_any_work(tmp_path):
    with pytest.raises(SigverError, match="calibration_data=None: an int8 export needs a "
                                          "dataset store"):
        export_onnx(tmp_path / "missing.pth", tmp_path / "out.onnx", int8=True)
    with pytest.raises(SigverError, match="only used by an int8 export"):
        export_onnx(tmp_path / "missing.pth", tmp_path / "out.onnx",
                    calibration_data=tmp_path / "store.npz")
    assert not (tmp_path / "out.onnx").exists()
