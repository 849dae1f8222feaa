"""SigNet feature extractors and model files (docs/models-and-training.md).

The parameter names (``conv_layers.conv1.conv.weight``, ``fc_layers.fc2.bn.running_mean``,
...) are the file format of the published pretrained weights, so the module layout here is
fixed: every block is an ``OrderedDict`` of ``conv``/``fc`` (no bias), ``bn`` and ``relu``.

A model file is ``torch.save`` of the 3-tuple ``(feature_extractor_state_dict,
classification_layer_state_dict, forgery_layer_state_dict)``; the last two may be empty.
sigver's own files may add one entry to the first: ``feature_power``, the exponent of
the power normalisation applied to the features when they are extracted (the built-in
model's, docs/pretrained.md); published files have none, and their features are the
network's output unchanged.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sigver.errors import SigverError
from sigver.io import atomic_output
from sigver.validation import check_input_file

StateDict = Mapping[str, torch.Tensor]
# The optional model-file entry holding the feature power (see the module docstring).
FEATURE_POWER_KEY = "feature_power"


class PowerNormalization(nn.Module):
    """Signed power normalisation ``sign(x) |x| ** power`` of a feature vector.

    With ``power`` below 1 it compresses the few large activations a network produces on
    images unlike its training data, which otherwise dominate the distances that the WD
    and WI SVMs compute (power 0.5 is the usual choice for pooled image descriptors).
    """

    def __init__(self, power: float) -> None:
        super().__init__()
        self.power = float(power)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sign(features) * features.abs().pow(self.power)


def feature_network(model: nn.Module) -> nn.Module:
    """``model`` followed by its power normalisation when it has one (what extraction
    and export run); ``model`` itself otherwise."""
    power = getattr(model, "feature_power", None)
    return model if power is None else nn.Sequential(model, PowerNormalization(power))


def valid_feature_power(power: float) -> bool:
    """Whether ``power`` can be a feature power: within (0, 1] (above 1 it would stretch
    the large activations instead of compressing them)."""
    return 0 < power <= 1


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 pad: int = 0) -> nn.Sequential:
    """Convolution without bias, batch norm, ReLU (the published block names)."""
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, bias=False)),
        ("bn", nn.BatchNorm2d(out_channels)),
        ("relu", nn.ReLU()),
    ]))


def linear_bn_relu(in_features: int, out_features: int) -> nn.Sequential:
    """Fully connected layer without bias, batch norm, ReLU (the published block names)."""
    return nn.Sequential(OrderedDict([
        ("fc", nn.Linear(in_features, out_features, bias=False)),
        ("bn", nn.BatchNorm1d(out_features)),
        ("relu", nn.ReLU()),
    ]))


class _SigNetBase(nn.Module):
    """Shared forward pass: conv stack, flatten, fc stack -> ``feature_space_size`` vector."""

    feature_space_size: int
    conv_layers: nn.Sequential
    fc_layers: nn.Sequential
    # Exponent of the power normalisation of extracted features (None: none). Training
    # never applies it: the heads see the network's output, and a fine-tuned model keeps
    # the exponent of the file it started from.
    feature_power: float | None = None

    def _init_weights(self) -> None:
        # Glorot-uniform weights, as in the original Lasagne implementation of [1].
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(module.weight)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Features of a batch ``N x 1 x 150 x 220`` of images scaled to [0, 1]."""
        x = self.conv_layers(inputs)
        x = torch.flatten(x, 1)
        return self.fc_layers(x)


def signet_conv_layers(widths: Mapping[str, int]) -> nn.Sequential:
    """The conv stack of the SigNet family, output channels by block name.

    conv1 (11 x 11, stride 4) and conv2 (5 x 5) are each followed by a 3 x 3 / 2 max
    pool; the 3 x 3 blocks among conv3, conv4, conv5 present in ``widths`` follow, then
    the last max pool. On a 150 x 220 input the output is ``widths["conv5"] x 3 x 5``.
    """
    layers = [("conv1", conv_bn_relu(1, widths["conv1"], 11, stride=4)),
              ("maxpool1", nn.MaxPool2d(3, 2)),
              ("conv2", conv_bn_relu(widths["conv1"], widths["conv2"], 5, pad=2)),
              ("maxpool2", nn.MaxPool2d(3, 2))]
    previous = widths["conv2"]
    for name in ("conv3", "conv4", "conv5"):
        if name in widths:
            layers.append((name, conv_bn_relu(previous, widths[name], 3, pad=1)))
            previous = widths[name]
    layers.append(("maxpool3", nn.MaxPool2d(3, 2)))
    return nn.Sequential(OrderedDict(layers))


def signet_fc_layers(in_features: int, widths: Mapping[str, int]) -> nn.Sequential:
    """The fully connected blocks (``fc1``, ``fc2``, ...) in order, sizes by block name."""
    layers = []
    for name, width in widths.items():
        layers.append((name, linear_bn_relu(in_features, width)))
        in_features = width
    return nn.Sequential(OrderedDict(layers))


class SigNet(_SigNetBase):
    """SigNet of Hafemann et al. (2017): 5 conv + 2 fc blocks, 2048 features."""

    def __init__(self) -> None:
        super().__init__()
        self.feature_space_size = 2048
        self.conv_layers = signet_conv_layers(
            {"conv1": 96, "conv2": 256, "conv3": 384, "conv4": 384, "conv5": 256})
        self.fc_layers = signet_fc_layers(256 * 3 * 5, {"fc1": 2048, "fc2": 2048})
        self._init_weights()


class SigNet_thin(_SigNetBase):
    """SigNet with fewer channels: 128 filters after conv1, 1024 features."""

    def __init__(self) -> None:
        super().__init__()
        self.feature_space_size = 1024
        self.conv_layers = signet_conv_layers(
            {"conv1": 96, "conv2": 128, "conv3": 128, "conv4": 128, "conv5": 128})
        self.fc_layers = signet_fc_layers(128 * 3 * 5, {"fc1": 1024, "fc2": 1024})
        self._init_weights()


class SigNet_smaller(_SigNetBase):
    """SigNet without conv4 and fc2: 2048 features."""

    def __init__(self) -> None:
        super().__init__()
        self.feature_space_size = 2048
        self.conv_layers = signet_conv_layers(
            {"conv1": 96, "conv2": 256, "conv3": 384, "conv5": 256})
        self.fc_layers = signet_fc_layers(256 * 3 * 5, {"fc1": 2048})
        self._init_weights()


available_models: dict[str, type[_SigNetBase]] = {
    "signet": SigNet,
    "signet_thin": SigNet_thin,
    "signet_smaller": SigNet_smaller,
}


def create_model(name: str) -> _SigNetBase:
    """A fresh model by its command-line name (``signet``, ``signet_thin``, ``signet_smaller``)."""
    if name not in available_models:
        raise SigverError(f"--model: unknown model '{name}'; choose one of "
                          f"{', '.join(available_models)}")
    return available_models[name]()


def infer_model_name(state_dict: StateDict) -> str | None:
    """The architecture whose parameter names and shapes match ``state_dict`` exactly."""
    shapes = {key: tuple(value.shape) for key, value in state_dict.items()}
    for name, cls in available_models.items():
        with torch.device("meta"):  # shapes only: no memory, no initialisation cost
            reference = cls()
        expected = {key: tuple(value.shape) for key, value in reference.state_dict().items()}
        if shapes == expected:
            return name
    return None


@dataclass
class ModelFile:
    """The content of a model file: the feature extractor and its optional heads."""

    model: _SigNetBase
    name: str
    classification_layer: nn.Linear | None
    forgery_layer: nn.Linear | None


def read_model_file(path: str | os.PathLike
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                               dict[str, torch.Tensor]]:
    """Read a model file's three state dicts without unpickling arbitrary objects."""
    path = check_input_file(path, "model")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, IndexError, KeyError, io.UnsupportedOperation) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SigverError(f"{path}: not a readable model file (corrupt, truncated or not "
                          f"saved with torch.save: {first})") from None
    if isinstance(content, Mapping) and any(isinstance(v, torch.Tensor)
                                            for v in content.values()):
        # A bare feature-extractor state dict, as some users save it.
        content = (content, {}, {})
    if (not isinstance(content, tuple | list) or len(content) != 3
            or not all(isinstance(part, Mapping) for part in content)):
        raise SigverError(f"{path}: expected a 3-tuple (feature extractor, classification "
                          "layer, forgery layer) of state dicts")
    for part in content:
        for key, value in part.items():
            if not isinstance(value, torch.Tensor):
                raise SigverError(f"{path}: entry '{key}' is not a tensor")
    return tuple(dict(part) for part in content)  # type: ignore[return-value]


def _linear_from_state(state: Mapping[str, torch.Tensor], path: Path,
                       what: str) -> nn.Linear | None:
    if not state:
        return None
    weight = state.get("weight")
    if weight is None or weight.ndim != 2 or set(state) - {"weight", "bias"}:
        raise SigverError(f"{path}: the {what} layer is not a linear layer "
                          f"(keys: {', '.join(sorted(state))})")
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in state)
    layer.load_state_dict(state)
    return layer


def load_model_parts(path: str | os.PathLike, model_name: str | None = None,
                     device: str | torch.device = "cpu") -> ModelFile:
    """Load a model file with its heads (for ``--test``, fine-tuning and resuming).

    Parameters
    ----------
    path
        A model file in the published layout (docs/models-and-training.md).
    model_name
        ``signet``, ``signet_thin`` or ``signet_smaller``; inferred from the parameter
        names and shapes when ``None``.
    device
        Where the modules are placed.
    """
    path = Path(path)
    features_state, clf_state, forg_state = read_model_file(path)
    power = features_state.pop(FEATURE_POWER_KEY, None)
    if power is not None:
        if power.numel() != 1:
            raise SigverError(f"{path}: entry '{FEATURE_POWER_KEY}' is not a single number")
        power = power.item()
        if not valid_feature_power(power):
            raise SigverError(f"{path}: feature power {power} must be within (0, 1]")
    inferred = infer_model_name(features_state)
    if model_name is None:
        if inferred is None:
            raise SigverError(f"{path}: the weights match none of the architectures "
                              f"{', '.join(available_models)}")
        model_name = inferred
    model = create_model(model_name)
    if inferred != model_name:
        detail = f"they look like '{inferred}'" if inferred else "names or shapes differ"
        raise SigverError(f"{path}: the weights do not fit --model {model_name} ({detail})")
    model.load_state_dict(features_state)
    model.feature_power = power
    clf = _linear_from_state(clf_state, path, "classification")
    forg = _linear_from_state(forg_state, path, "forgery")
    for layer in (clf, forg):
        if layer is not None and layer.in_features != model.feature_space_size:
            raise SigverError(f"{path}: a head takes {layer.in_features} inputs but the "
                              f"model has {model.feature_space_size} features")
    model.to(device).eval()
    if clf is not None:
        clf.to(device)
    if forg is not None:
        forg.to(device)
    return ModelFile(model=model, name=model_name, classification_layer=clf,
                     forgery_layer=forg)


def load_model_file(path: str | os.PathLike, model_name: str | None = None,
                    device: str | torch.device = "cpu") -> _SigNetBase:
    """Load the feature extractor of a model file, in eval mode (see ``load_model_parts``)."""
    return load_model_parts(path, model_name, device).model


def save_model_file(path: str | os.PathLike, model: nn.Module, clf: nn.Module | None = None,
                    forg: nn.Module | None = None) -> None:
    """Write a model file in the published 3-tuple layout, atomically.

    Tensors are moved to the CPU, in the standard memory layout, so the file loads
    anywhere. A model with a ``feature_power`` records it in the file.
    """
    parts = tuple({key: value.detach().cpu().contiguous()
                   for key, value in module.state_dict().items()}
                  if module is not None else {} for module in (model, clf, forg))
    power = getattr(model, "feature_power", None)
    if power is not None:
        parts[0][FEATURE_POWER_KEY] = torch.tensor(float(power))
    with atomic_output(path) as tmp:
        torch.save(parts, tmp)
