"""``sigver wi [ACTION] ...``: the writer-independent command family.

Without an action (or with ``test``) it is exactly ``python -m sigver.wi.test`` with the
published flags; further actions (e.g. fitting and saving a classifier) register in
``ACTIONS`` as ``name -> module with main(argv)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

ACTIONS: dict[str, str] = {"test": "sigver.wi.test", "fit": "sigver.wi.fit"}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to an action's ``main``; flags alone mean ``test``."""
    argv = list(argv or [])
    action = argv[0] if argv and argv[0] in ACTIONS else "test"
    rest = argv[1:] if argv and argv[0] in ACTIONS else argv
    return importlib.import_module(ACTIONS[action]).main(rest)
