"""Deployable feature models: SigNet exported to ONNX, and the engines that compute
features with PyTorch or with ONNX Runtime alone.

- ``metadata``: what an export records (architecture, feature length, preprocessing
  settings, the source model's SHA-256, precision) and how it is read back.
- ``export``: ``export_onnx`` writes a float32 or statically quantized int8 ONNX file.
- ``engines``: ``open_engine`` gives a ``TorchEngine`` (a model file) or an ``OnnxEngine``
  (an export; imports numpy and onnxruntime, never torch) with the same ``features``.

ONNX needs the optional packages of ``sigver[onnx]`` (``docs/deployment.md``).
"""
