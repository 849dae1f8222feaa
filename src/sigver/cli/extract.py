"""``sigver extract``: forwards to the command module being moved here."""

from sigver.featurelearning.extract import main

__all__ = ["main"]
