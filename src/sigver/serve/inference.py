"""The feature network of a service process, prepared once for many small batches.

A service runs a forward pass every few milliseconds, on whatever the batcher gathered
(often 1-8 images). ``FeatureModel.features`` suits a large extraction: with a PyTorch
model it folds the batch norms into a fresh copy of the network on every call, which
costs more than a whole forward pass over a few images. ``Network`` prepares the
inference network once (the same folded, channels-last network, so the same features)
and runs each batch on it. An ONNX export (``sigver export``) runs on ONNX Runtime with
``threads`` intra-op threads (its default, one per core and spinning between runs, would
compete with the threads that preprocess).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sigver.errors import ParameterError
from sigver.verification.extraction import PreparedImage, check_model_file


class Network:
    """A model file (PyTorch or ONNX) opened for serving, with its identity.

    Parameters
    ----------
    path
        The PyTorch model file or its ONNX export.
    expected_sha256
        When given, the model must be this one (the database's): the PyTorch file with
        this SHA-256, or an export of it.
    device
        ``auto``, ``cpu`` or ``cuda``.
    engine
        ``auto`` (by the file's content), ``torch`` or ``onnx``.
    threads
        Intra-op threads of an ONNX Runtime session (PyTorch's are process-wide: the
        caller sets ``torch.set_num_threads``).
    batch_size
        Images per forward pass at most.
    """

    def __init__(self, path: str | os.PathLike, expected_sha256: str | None = None, *,
                 device: str = "cpu", engine: str = "auto", threads: int = 1,
                 batch_size: int = 32) -> None:
        from sigver.deploy.engines import detect_engine, open_engine

        self.path = Path(path)
        check_model_file(self.path)
        kind = detect_engine(self.path) if engine == "auto" else engine
        self.engine = open_engine(self.path, kind, device=device,
                                  threads=threads if kind == "onnx" else None)
        self.kind, self.precision = self.engine.kind, self.engine.precision
        self.sha256 = self.engine.source_sha256
        if expected_sha256 is not None and not self.engine.matches(expected_sha256):
            raise ParameterError("model_path", str(self.path), "not the model this database "
                                 f"was enrolled with (SHA-256 {self.sha256[:12]}..., the "
                                 f"database expects {expected_sha256[:12]}...)")
        self.feature_dim = int(self.engine.feature_dim)
        self.batch_size = max(int(batch_size), 1)
        self._net = None
        if self.kind == "torch":
            from sigver.featurelearning.data import fast_layout
            from sigver.featurelearning.extract import fold_batch_norm

            self._net = fast_layout(fold_batch_norm(self.engine.model))

    def features(self, images: Sequence[PreparedImage],
                 input_size: tuple[int, int]) -> np.ndarray:
        """float32 ``N x D`` features of prepared images (one forward pass per
        ``batch_size`` images)."""
        x = np.stack([image.image for image in images])
        input_size = tuple(input_size)
        if self._net is None:
            return self.engine.features(x, batch_size=self.batch_size, input_size=input_size)
        import torch

        from sigver.featurelearning.data import center_crop_batch, to_network_input

        out = np.empty((len(x), self.feature_dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(x), self.batch_size):
                stop = min(start + self.batch_size, len(x))
                batch = to_network_input(center_crop_batch(x, start, stop, input_size),
                                         self.engine.device)
                out[start:stop] = self._net(batch).float().cpu().numpy()
        return out
