"""``sigver synth``: forwards to the command module being moved here."""

from sigver.synthetic.synth import main

__all__ = ["main"]
