"""Feature engines: the same ``features`` from a PyTorch model file or an ONNX export.

Every stage that computes features (extraction, enrollment, verification) can hold a
``FeatureEngine`` instead of a PyTorch model:

- ``TorchEngine``: a model file (docs/models-and-training.md), run by
  ``sigver.featurelearning.extract.extract_features`` (imports torch when opened);
- ``OnnxEngine``: an export of ``sigver export``, run by ONNX Runtime; this module and it
  import numpy and onnxruntime only, so verification with an ONNX model never loads
  PyTorch.

An engine's identity is ``source_sha256``: the SHA-256 of the PyTorch model file whose
features it computes (for an export, the one recorded in its metadata). Enrollment
databases, feature files and classifier files record that value, so a database enrolled
with a model accepts that model's ONNX export and refuses any other model
(``matches``). ``sha256`` is the engine's own file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sigver.deploy.metadata import ExportMetadata, check_signature
from sigver.deploy.optional import import_optional
from sigver.errors import ParameterError, SigverError
from sigver.io import file_sha256
from sigver.settings import DEFAULT_INPUT_SIZE, PreprocessingSettings, read_model_settings

ENGINES = ("auto", "torch", "onnx")
# The first bytes of the files torch.save writes: a zip archive, or a pickle (older
# torch and the published models).
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@runtime_checkable
class FeatureEngine(Protocol):
    """What computes features for the rest of sigver.

    Attributes
    ----------
    kind
        ``"torch"`` or ``"onnx"``.
    path
        The model file.
    sha256
        SHA-256 of ``path``.
    source_sha256
        SHA-256 of the PyTorch model file the features come from (the model's identity).
    architecture
        ``signet``, ``signet_thin`` or ``signet_smaller``.
    feature_dim
        Length of the feature vectors.
    precision
        ``float32`` or ``int8``.
    settings
        The preprocessing settings recorded with the model (None: none recorded, e.g. a
        published model file).
    """

    kind: str
    path: Path
    sha256: str
    source_sha256: str
    architecture: str
    feature_dim: int
    precision: str
    settings: PreprocessingSettings | None

    def features(self, x: np.ndarray, *, batch_size: int = 32,
                 input_size: tuple[int, int] | None = None,
                 progress: bool = False) -> np.ndarray:
        """float32 ``N x D`` features of uint8 ``N x 1 x H x W`` images (centre-cropped to
        ``input_size``; None: the model's)."""

    def matches(self, sha256: str) -> bool:
        """Whether features recorded as made by the model ``sha256`` are this engine's."""


def center_crop(x: np.ndarray, start: int, stop: int,
                input_size: tuple[int, int]) -> np.ndarray:
    """Rows ``start:stop`` of ``N x 1 x H x W`` images, centre-cropped, contiguous
    (slicing first: a memmap reads only the pixels used)."""
    height, width = x.shape[-2:]
    top = (height - input_size[0]) // 2
    left = (width - input_size[1]) // 2
    return np.ascontiguousarray(
        x[start:stop, :, top:top + input_size[0], left:left + input_size[1]])


def _check_images(x: np.ndarray, batch_size: int, input_size: tuple[int, int]) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ParameterError("x", f"array of shape {tuple(x.shape)}",
                             "images must be N x 1 x H x W")
    if x.dtype != np.uint8:
        raise ParameterError("x", f"{x.dtype} array", "images must be uint8 (as stored)")
    if len(x) == 0:
        raise ParameterError("x", "empty array", "no images to extract features from")
    if batch_size < 1:
        raise ParameterError("batch_size", batch_size, "must be >= 1")
    if input_size[0] > x.shape[2] or input_size[1] > x.shape[3]:
        raise ParameterError("input_size", input_size,
                             f"larger than the images ({x.shape[2]} x {x.shape[3]})")


class TorchEngine:
    """A PyTorch model file as a feature engine.

    Parameters
    ----------
    path
        The model file (any SigNet-family file, published ones included).
    model_name
        The architecture; inferred from the weights when None.
    device
        ``auto``, ``cpu`` or ``cuda``.
    bf16
        bfloat16 autocast (faster where supported; slightly different features).
    """

    kind = "torch"

    def __init__(self, path: str | os.PathLike, *, model_name: str | None = None,
                 device: str = "auto", bf16: bool = False) -> None:
        from sigver.featurelearning.data import resolve_device
        from sigver.featurelearning.models import load_model_parts

        self.path = Path(path)
        self.device = resolve_device(device)
        parts = load_model_parts(self.path, model_name, device=self.device)
        self.model = parts.model
        self.architecture = parts.name
        self.feature_dim = int(self.model.feature_space_size)
        self.sha256 = file_sha256(self.path)
        self.source_sha256 = self.sha256
        self.bf16 = bf16
        self.precision = "bfloat16" if bf16 else "float32"
        self.settings = read_model_settings(self.path)
        self._network = None

    def features(self, x: np.ndarray, *, batch_size: int = 32,
                 input_size: tuple[int, int] | None = None,
                 progress: bool = False) -> np.ndarray:
        """float32 ``N x D`` features (see ``FeatureEngine.features``)."""
        from sigver.featurelearning.extract import prepare_network, run_network

        input_size = tuple(input_size or (self.settings.input_size if self.settings
                                          else DEFAULT_INPUT_SIZE))
        _check_images(x, batch_size, input_size)
        if self._network is None:
            # prepared once: a copy of the model per call cost more than a forward pass
            # over a few images (~20 ms), and engines often score small batches
            self._network = prepare_network(self.model, self.device)
        return run_network(self._network, x, batch_size=batch_size, device=self.device,
                           input_size=input_size, progress=progress, bf16=self.bf16)

    def matches(self, sha256: str) -> bool:
        """Whether ``sha256`` is this model file's."""
        return sha256 == self.sha256


class OnnxEngine:
    """An ONNX export (``sigver export``) run by ONNX Runtime, without PyTorch.

    Parameters
    ----------
    path
        The ``.onnx`` file; its metadata and input / output signature are checked.
    threads
        Threads of one inference (ONNX Runtime's intra-op threads); None: its default
        (one per physical core).
    device
        ``auto`` (CUDA when onnxruntime has it and a GPU is present, else the CPU),
        ``cpu`` or ``cuda``.
    """

    kind = "onnx"

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None,
                 device: str = "auto") -> None:
        ort = import_optional("onnxruntime", "the ONNX engine")
        self.path = Path(path)
        if not self.path.is_file():
            raise SigverError(f"{self.path}: ONNX model file not found")
        with open(self.path, "rb") as handle:
            head = handle.read(4)
        if head.startswith(_TORCH_MAGIC):
            raise ParameterError("engine", "onnx", f"{self.path} is a PyTorch model file, "
                                 "not an ONNX export (export it with 'sigver export', or "
                                 "use the torch engine)")
        if threads is not None and threads < 1:
            raise ParameterError("threads", threads, "must be >= 1")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: they become the one-line message
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=_providers(ort, device))
        except Exception as exc:  # onnxruntime's own types all derive from Exception
            if not type(exc).__module__.startswith("onnxruntime"):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise SigverError(f"{self.path}: not a readable ONNX model (corrupt, truncated "
                              f"or not ONNX: {first})") from None
        self.metadata = ExportMetadata.from_props(
            self.session.get_modelmeta().custom_metadata_map, self.path)
        check_signature(self.metadata, _signature(self.session.get_inputs()),
                        _signature(self.session.get_outputs()), self.path)
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.architecture = self.metadata.architecture
        self.feature_dim = self.metadata.feature_dim
        self.precision = self.metadata.precision
        self.settings: PreprocessingSettings = self.metadata.settings
        self.source_sha256 = self.metadata.source_sha256
        self.sha256 = file_sha256(self.path)

    def features(self, x: np.ndarray, *, batch_size: int = 32,
                 input_size: tuple[int, int] | None = None,
                 progress: bool = False) -> np.ndarray:
        """float32 ``N x D`` features (see ``FeatureEngine.features``); the input size is
        fixed by the export."""
        expected = self.settings.input_size
        if input_size is not None and tuple(input_size) != expected:
            raise ParameterError("input_size", tuple(input_size),
                                 f"{self.path} was exported for {expected[0]} x "
                                 f"{expected[1]} inputs")
        _check_images(x, batch_size, expected)
        out = np.empty((len(x), self.feature_dim), dtype=np.float32)
        bar = _progress_bar(len(x), progress)
        for start in range(0, len(x), batch_size):
            stop = min(start + batch_size, len(x))
            batch = center_crop(x, start, stop, expected)
            out[start:stop] = self.session.run([self.output_name],
                                               {self.input_name: batch})[0]
            if bar is not None:
                bar.update(stop - start)
        if bar is not None:
            bar.close()
        return out

    def matches(self, sha256: str) -> bool:
        """Whether ``sha256`` is the exported model's or this file's own."""
        return sha256 in (self.source_sha256, self.sha256)


def _providers(ort: Any, device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device == "cuda":
            raise ParameterError("device", device, "this onnxruntime has no CUDA support "
                                 "(install onnxruntime-gpu) or no GPU is present")
        return ["CPUExecutionProvider"]
    raise ParameterError("device", device, "expected auto, cpu or cuda")


def _signature(args: list) -> list[tuple[str, str, list]]:
    return [(arg.name, arg.type, list(arg.shape)) for arg in args]


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="extract", unit="img", dynamic_ncols=True)


def detect_engine(path: str | os.PathLike) -> str:
    """``"torch"`` for a file torch.save wrote (zip or pickle), ``"onnx"`` otherwise
    (a missing file: by its ``.onnx`` suffix)."""
    path = Path(path)
    if not path.is_file():
        return "onnx" if path.suffix.lower() == ".onnx" else "torch"
    with open(path, "rb") as handle:
        head = handle.read(4)
    return "torch" if head.startswith(_TORCH_MAGIC) else "onnx"


def open_engine(path: str | os.PathLike, engine: str = "auto", *, device: str = "auto",
                threads: int | None = None, model_name: str | None = None,
                bf16: bool = False) -> FeatureEngine:
    """Open a model file as a feature engine.

    Parameters
    ----------
    path
        A PyTorch model file or an ONNX export.
    engine
        ``auto`` (by the file's content), ``torch`` or ``onnx``.
    device
        ``auto``, ``cpu`` or ``cuda``.
    threads
        ONNX only: threads of one inference.
    model_name, bf16
        PyTorch only: the architecture (inferred when None) and bfloat16 autocast.
    """
    if engine not in ENGINES:
        raise ParameterError("engine", engine, f"expected one of {', '.join(ENGINES)}")
    kind = detect_engine(path) if engine == "auto" else engine
    if kind == "onnx":
        if model_name is not None or bf16:
            raise ParameterError("model_name" if model_name is not None else "bf16",
                                 model_name if model_name is not None else bf16,
                                 "only for PyTorch model files (an ONNX export records "
                                 "its architecture and precision)")
        return OnnxEngine(path, threads=threads, device=device)
    if threads is not None:
        raise ParameterError("threads", threads, "only for the ONNX engine")
    return TorchEngine(path, model_name=model_name, device=device, bf16=bf16)
