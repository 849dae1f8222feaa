"""sigver: offline handwritten signature verification.

Pipeline stages, each usable from Python without the command line:

``datasets`` + ``preprocessing`` -> dataset store -> ``featurelearning`` (models,
training, extraction) -> ``features`` -> ``wd`` / ``wi`` protocols -> ``performance``
metrics. ``cli`` is a thin command-line layer over them.
"""

__version__ = "0.1.0"
