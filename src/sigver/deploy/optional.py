"""The optional packages of the ``onnx`` extra, imported with a one-line error when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from sigver.errors import SigverError

EXTRA = "onnx"


def import_optional(name: str, purpose: str) -> ModuleType:
    """Import ``name``; when it is not installed, a one-line error naming the extra.

    Parameters
    ----------
    name
        The module (``onnx``, ``onnxruntime``, ``onnxscript``).
    purpose
        What needs it, for the message (``"ONNX export"``).
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise SigverError(f"{purpose} needs the optional package '{name}', which is not "
                          f"installed: pip install 'sigver[{EXTRA}]'") from None
