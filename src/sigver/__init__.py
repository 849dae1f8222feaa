"""sigver: offline handwritten signature verification.

Pipeline stages, each usable from Python without the command line:

``datasets`` + ``preprocessing`` -> dataset store -> ``featurelearning`` (models,
training, extraction) -> ``features`` -> ``wd`` / ``wi`` protocols -> ``performance``
metrics. ``verification`` turns a fitted writer-independent classifier into a service:
``sigver.enroll`` stores a person's references, ``sigver.verify`` (or a ``sigver.Verifier``
kept open) decides whether questioned signatures are theirs. ``cli`` is a thin
command-line layer over all of them.
"""

__version__ = "0.1.0"

# The practitioner's API, imported on first use so that ``import sigver`` stays cheap
# (no torch, no scikit-learn).
_LAZY = {"enroll": "sigver.verification.api", "verify": "sigver.verification.api",
         "Verifier": "sigver.verification.api"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sigver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
