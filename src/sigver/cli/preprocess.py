"""``sigver preprocess``: forwards to the command module being moved here."""

from sigver.preprocessing.process_dataset import main

__all__ = ["main"]
