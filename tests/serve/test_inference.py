"""The service's feature network: the library's features from a network prepared once
per engine, with the PyTorch model or its ONNX export, and the batching figures of
/health."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.errors import ParameterError
from sigver.settings import DEFAULT_INPUT_SIZE, PreprocessingSettings
from sigver.verification.extraction import FeatureModel, prepare_image

API = "/api/v1"
pytestmark = pytest.mark.slow  # the session's world takes ~15 s to build


def prepared(world, count=3):
    scans = world["writers"]["001"]["genuine"][:count]
    return [prepare_image(p, world["canvas"]) for p in scans]


def test_the_prepared_network_gives_the_library_features(world):
    from sigver.featurelearning.extract import extract_features

    images = prepared(world)
    model = FeatureModel(world["model"], device="cpu", batch_size=2)  # passes of 2 + 1
    expected = extract_features(model.engine.model, np.stack([i.image for i in images]),
                                device="cpu", progress=False)
    got = model.features(images, DEFAULT_INPUT_SIZE)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    prepared_once = model.engine._network
    assert prepared_once is not None
    # a later call reuses the prepared network; one image gives the batch's row
    np.testing.assert_allclose(model.features(images[2:], DEFAULT_INPUT_SIZE), got[2:],
                               rtol=1e-5, atol=1e-6)
    assert model.engine._network is prepared_once
    with pytest.raises(ParameterError, match="model_path.*not the model"):
        FeatureModel(world["model"], "0" * 64)


def test_the_service_verifies_with_the_onnx_export(world, service, tmp_path):
    pytest.importorskip("onnxruntime")
    from fastapi.testclient import TestClient

    from sigver.deploy.export import export_onnx
    from sigver.serve.app import ServeConfig, create_app

    onnx = export_onnx(world["model"], tmp_path / "model.onnx",
                       settings=PreprocessingSettings(canvas_size=world["canvas"])).path
    writer = world["writers"]["001"]
    torch_client = service["client"]()
    assert torch_client.post(f"{API}/persons", json={"name": "001"},
                             headers=service["admin"]).status_code == 201
    files = [("files", (p.name, p.read_bytes(), "image/png")) for p in writer["genuine"][:5]]
    assert torch_client.post(f"{API}/persons/001/references", files=files,
                             headers=service["admin"]).status_code == 200
    questioned = [("files", (p.name, p.read_bytes(), "image/png"))
                  for p in writer["genuine"][5:7] + writer["skilled"][:2]]

    def scores(client):
        response = client.post(f"{API}/persons/001/verify", files=questioned,
                               headers=service["verify"])
        assert response.status_code == 200, response.text
        return [(r["method"], r["score"], [s["score"] for s in r["reference_scores"]])
                for r in response.json()["results"]]

    expected = scores(torch_client)
    # The database was enrolled with the PyTorch file: its export is the same model.
    config = ServeConfig(db=str(service["db"]), classifier=str(world["classifier"]),
                         background=str(world["background"]), model_path=str(onnx),
                         engine="onnx", image_dir=str(tmp_path / "images"))
    onnx_client = TestClient(create_app(config))
    got = scores(onnx_client)
    assert [m for m, _, _ in got] == [m for m, _, _ in expected] == ["wd"] * 4
    for (_, score, pairs), (_, want, want_pairs) in zip(got, expected, strict=True):
        assert score == pytest.approx(want, abs=1e-4)
        assert pairs == pytest.approx(want_pairs, abs=1e-4)
    health = onnx_client.get(f"{API}/health", headers=service["verify"]).json()
    # one request of 4 images: one forward pass (nothing else ran on this app)
    assert health["batching"] == {"forward_passes": 1, "images": 4, "max_batch": 32}
