"""Model files and ONNX files for the deployment tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A canvas that holds every golden scan (the largest is 759 x 1403).
GOLDEN_CANVAS = (1000, 1500)


def random_model_file(path: Path, name: str, seed: int = 0,
                      feature_power: float | None = None) -> Path:
    """A model file of architecture ``name`` with random weights and random batch-norm
    statistics (so that folding them into the layers is exercised), recording
    ``feature_power``."""
    import torch

    from sigver.featurelearning.models import create_model, save_model_file

    torch.manual_seed(seed)
    model = create_model(name)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.normal_(0, 0.05, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(0, 0.1, generator=generator)
            assert module.running_mean.shape == (n,)
    model.feature_power = feature_power
    save_model_file(path, model.eval())
    return path


def golden_images(golden_dir: Path) -> np.ndarray:
    """The golden scans through the real preprocessing, stored size: uint8 N x 1 x H x W."""
    from sigver.preprocessing.imageio import read_signature_image
    from sigver.preprocessing.normalize import preprocess_signature

    scans = sorted(golden_dir.glob("*.png"))
    return np.stack([preprocess_signature(read_signature_image(p), GOLDEN_CANVAS,
                                          input_size=None)[None] for p in scans])


def tiny_onnx(path: Path, *, props: dict[str, str] | None = None, elem: str = "uint8",
              shape: tuple = ("N", 1, 150, 220), out_dim: int = 4) -> Path:
    """A small valid ONNX graph (not a SigNet): ``images`` -> mean over pixels, tiled to
    ``out_dim`` features, with the given metadata."""
    import onnx
    from onnx import TensorProto, helper

    elem_type = {"uint8": TensorProto.UINT8, "float": TensorProto.FLOAT}[elem]
    nodes = [helper.make_node("Cast", ["images"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["m"], keepdims=0, axes=[1, 2, 3]),
             helper.make_node("Unsqueeze", ["m", "axis"], ["u"]),
             helper.make_node("Tile", ["u", "reps"], ["features"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("images", elem_type, list(shape))],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", out_dim])],
        initializer=[helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
                     helper.make_tensor("reps", TensorProto.INT64, [2], [1, out_dim])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (props or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
