"""``sigver wi``: forwards to the command module being moved here."""

from sigver.wi.command import main

__all__ = ["main"]
