"""A synthetic world shared by the verification tests of engines and methods: a
random-weight SigNet_thin with its ONNX export (and another model's), a WI classifier,
a WD background and scans of writers to enroll (``serve_world.build_world``)."""

from __future__ import annotations

import pytest

from serve_world import build_world


@pytest.fixture(scope="session")
def cli_world(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    import torch

    from sigver.deploy.export import export_onnx
    from sigver.featurelearning.models import SigNet_thin, save_model_file
    from sigver.settings import PreprocessingSettings

    world = build_world(tmp_path_factory.mktemp("cli-world"), exp_writers=2)
    root, settings = world["root"], PreprocessingSettings(canvas_size=world["canvas"])
    world["onnx"] = export_onnx(world["model"], root / "signet_thin.onnx",
                                settings=settings).path
    torch.manual_seed(1)
    save_model_file(root / "other.pth", SigNet_thin())
    world["other_onnx"] = export_onnx(root / "other.pth", root / "other.onnx",
                                      settings=settings).path
    return world
