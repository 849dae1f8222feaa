"""Signature files to features, as enrollment and verification prepare them: read and
preprocess a file at the database's settings (``prepare_image``), and the feature model
(a PyTorch model file or its ONNX export, ``FeatureModel``) with its identity and the
settings it records (``model_settings``). ``sigver.verification.api`` builds on these."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigver.errors import ParameterError, SigverError
from sigver.io import file_sha256
from sigver.parallel import parallel_map
from sigver.settings import (
    DEFAULT_IMG_SIZE,
    DEFAULT_INPUT_SIZE,
    PreprocessingSettings,
    read_model_settings,
)

PathLike = str | os.PathLike


@dataclass(frozen=True)
class PreparedImage:
    """A signature file read and preprocessed: its content hash and ``1 x H x W`` image."""

    path: str
    file_sha256: str
    image: np.ndarray


def prepare_image(path: PathLike, canvas_size: tuple[int, int],
                  img_size: tuple[int, int] = DEFAULT_IMG_SIZE,
                  crop_oversize: bool = False) -> PreparedImage:
    """Read a signature file and preprocess it (docs/preprocessing.md) at the stored size.

    Errors (missing, unreadable, blank) are one line naming the file. A signature larger
    than the canvas is an error too, as in ``process_dataset``, unless ``crop_oversize``:
    then its middle is kept (the published behaviour) with a warning naming the file.
    """
    from sigver.imageio import read_signature_image
    from sigver.preprocessing.normalize import CanvasTooSmallWarning, preprocess_signature

    img = read_signature_image(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if not crop_oversize:
                warnings.simplefilter("error", CanvasTooSmallWarning)
            processed = preprocess_signature(img, canvas_size, img_size, input_size=None)
    except CanvasTooSmallWarning as exc:
        raise SigverError(f"{path}: the signature is larger than the canvas "
                          f"{canvas_size[0]} x {canvas_size[1]} ({exc}); crop_oversize=True "
                          "keeps its middle as the published code does") from None
    except SigverError as exc:
        raise SigverError(f"{path}: {exc}") from None
    for warning in caught:
        warnings.warn(f"{path}: {warning.message}", warning.category, stacklevel=2)
    return PreparedImage(path=str(path), file_sha256=file_sha256(path),
                         image=processed[None])


def _prepare(item: tuple[str, tuple[int, int], tuple[int, int], bool]) -> PreparedImage:
    return prepare_image(*item)


def prepare_images(files: Sequence[PathLike], canvas_size: tuple[int, int],
                   img_size: tuple[int, int] = DEFAULT_IMG_SIZE, workers: int = 1,
                   progress: bool = False, crop_oversize: bool = False
                   ) -> list[PreparedImage]:
    """``prepare_image`` for many files, in parallel worker processes, in input order."""
    items = [(str(f), tuple(canvas_size), tuple(img_size), crop_oversize) for f in files]
    return parallel_map(_prepare, items, workers=workers, desc="preprocess",
                        progress=progress)


class FeatureModel:
    """A model file opened as a feature engine (PyTorch or ONNX), with its identity.

    Parameters
    ----------
    path
        A PyTorch model file (docs/models-and-training.md) or its ONNX export (``sigver export``).
    expected_sha256
        When given, the model must be this one (the database's): the PyTorch file with
        this SHA-256, or an export of it.
    device
        ``auto``, ``cpu`` or ``cuda``.
    batch_size
        Images per forward pass.
    engine
        ``auto`` (by the file's content), ``torch`` or ``onnx``
        (``sigver.deploy.engines``); the ONNX engine never imports PyTorch.
    threads
        Intra-op threads of an ONNX Runtime session (None: its default, one per core;
        a service with its own preprocessing threads gives fewer). PyTorch's are
        process-wide (``torch.set_num_threads``), so ignored for a PyTorch model.

    Attributes
    ----------
    sha256
        The model's identity: the SHA-256 of the PyTorch file (for an export, of the file
        it was exported from), as databases, feature files and classifiers record it.
    """

    def __init__(self, path: PathLike, expected_sha256: str | None = None,
                 device: str = "auto", batch_size: int = 32, engine: str = "auto",
                 threads: int | None = None) -> None:
        from sigver.deploy.engines import detect_engine, open_engine

        self.path = Path(path)
        check_model_file(self.path)
        kind = detect_engine(self.path) if engine == "auto" else engine
        self.engine = open_engine(self.path, kind, device=device,
                                  threads=threads if kind == "onnx" else None)
        self.sha256 = self.engine.source_sha256
        if expected_sha256 is not None and not self.engine.matches(expected_sha256):
            raise ParameterError("model_path", str(self.path), "not the model this database "
                                 f"was enrolled with (SHA-256 {self.sha256[:12]}..., the "
                                 f"database expects {expected_sha256[:12]}...)")
        self.batch_size = batch_size
        self.feature_dim = int(self.engine.feature_dim)

    def features(self, images: Sequence[PreparedImage],
                 input_size: tuple[int, int] = DEFAULT_INPUT_SIZE) -> np.ndarray:
        """float32 ``N x D`` features of prepared images (centre crop ``input_size``)."""
        x = np.stack([p.image for p in images])
        return self.engine.features(x, batch_size=self.batch_size,
                                    input_size=tuple(input_size))


def check_model_file(path: PathLike) -> None:
    """A one-line error naming ``model_path`` when the model file is missing."""
    if not Path(path).is_file():
        raise ParameterError("model_path", str(path), "model file not found")


def model_settings(model_path: PathLike, engine: str = "auto"
                   ) -> tuple[PreprocessingSettings | None, str]:
    """The preprocessing settings recorded with a model, and where they are recorded.

    A PyTorch model file records them in its folder (``preprocessing.json``, None when
    absent); an ONNX export in its metadata (always).
    """
    from sigver.deploy.engines import detect_engine, open_engine

    kind = detect_engine(model_path) if engine == "auto" else engine
    if kind == "onnx":
        return (open_engine(model_path, "onnx", device="cpu").settings,
                f"the metadata of the ONNX export {model_path}")
    return read_model_settings(model_path), f"the model folder of {model_path}"
