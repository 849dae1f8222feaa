"""``sigver enroll``: forwards to the command module being moved here."""

from sigver.verification.enroll import main

__all__ = ["main"]
