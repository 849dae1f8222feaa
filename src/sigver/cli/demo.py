"""``sigver demo``: forwards to the command module being moved here."""

from sigver.demo.pipeline import main

__all__ = ["main"]
