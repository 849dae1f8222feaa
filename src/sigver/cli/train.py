"""``sigver train``: forwards to the command module being moved here."""

from sigver.featurelearning.contrastive_train import main

__all__ = ["main"]
