"""``sigver verify``: forwards to the command module being moved here."""

from sigver.verification.verify import main

__all__ = ["main"]
