"""``sigver wd``: forwards to the command module being moved here."""

from sigver.wd.test import main

__all__ = ["main"]
