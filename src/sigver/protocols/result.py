"""Typed results of a WD / WI protocol run (``sigver.wd.run``, ``sigver.wi.run``).

A run holds its folds in order; each fold holds its metrics (docs/protocols-and-metrics.md), the
score of every test signature per exploitation user, and those users' ids. Results holding
arrays compare by identity; compare ``to_published()`` or the metrics instead.
``ProtocolResult.to_published()`` gives the published structure (the list of
``{'all_metrics': ..., 'predictions': ...}`` dicts that ``--save-path`` pickles), which
the table, file and plot functions of ``sigver.protocols.results`` take.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sigver.protocols.results import format_console, save_results, summarize

# Attribute of FoldMetrics -> key of the published ``all_metrics`` dict, in its order.
PUBLISHED_METRICS = {"frr": "FRR", "far_random": "FAR_random", "far_skilled": "FAR_skilled",
                     "mean_auc": "mean_AUC", "eer": "EER",
                     "eer_user_thresholds": "EER_userthresholds", "auc_list": "auc_list",
                     "global_threshold": "global_threshold", "skipped_users": "skipped_users"}
PUBLISHED_PREDICTIONS = {"genuine": "genuinePreds", "random": "randomPreds",
                         "skilled": "skilledPreds"}


@dataclass(frozen=True)
class FoldMetrics:
    """The metrics of one fold (docs/protocols-and-metrics.md); rates are fractions (0..1).

    Attributes
    ----------
    frr, far_random, far_skilled
        Error rates at the decision threshold (``global_threshold`` of the run).
    mean_auc
        Mean over users of the genuine-vs-skilled ROC AUC.
    eer, eer_user_thresholds
        Equal error rate with one threshold for everyone / one per user.
    auc_list
        Each exploitation user's AUC (NaN for a user without skilled forgeries).
    global_threshold
        The threshold at the global EER.
    skipped_users
        Users left out of the skilled metrics (no skilled forgeries).
    """

    frr: float
    far_random: float
    far_skilled: float
    mean_auc: float
    eer: float
    eer_user_thresholds: float
    auc_list: tuple[float, ...]
    global_threshold: float
    skipped_users: int

    @classmethod
    def from_published(cls, metrics: dict[str, Any]) -> FoldMetrics:
        """From an ``all_metrics`` dict (``compute_metrics``)."""
        values = {attr: metrics[key] for attr, key in PUBLISHED_METRICS.items()}
        values["auc_list"] = tuple(float(a) for a in values["auc_list"])
        return cls(**values)

    def to_published(self) -> dict[str, Any]:
        """The ``all_metrics`` dict, keys and value types as the published code writes."""
        values = {key: getattr(self, attr) for attr, key in PUBLISHED_METRICS.items()}
        values["auc_list"] = list(self.auc_list)
        return values


@dataclass(frozen=True, eq=False)
class Predictions:
    """Scores of a fold's test signatures: one array per exploitation user (same order
    as ``FoldResult.users``) for its genuine signatures, random and skilled forgeries."""

    genuine: list[np.ndarray]
    random: list[np.ndarray]
    skilled: list[np.ndarray]

    @classmethod
    def from_published(cls, predictions: dict[str, list[np.ndarray]]) -> Predictions:
        """From a ``predictions`` dict (``genuinePreds``, ``randomPreds``, ``skilledPreds``)."""
        return cls(**{attr: list(predictions[key])
                      for attr, key in PUBLISHED_PREDICTIONS.items()})

    def to_published(self) -> dict[str, list[np.ndarray]]:
        """The published ``predictions`` dict."""
        return {key: list(getattr(self, attr)) for attr, key in PUBLISHED_PREDICTIONS.items()}


@dataclass(frozen=True, eq=False)
class FoldResult:
    """One fold: metrics, scores, the exploitation users in score order, wall time and
    (when the run kept them) the fitted classifiers."""

    metrics: FoldMetrics
    predictions: Predictions
    users: np.ndarray
    seconds: float
    classifiers: Any = field(default=None, repr=False, compare=False)

    def to_published(self) -> dict[str, dict]:
        """``{'all_metrics': ..., 'predictions': ...}`` as the published code returns."""
        return {"all_metrics": self.metrics.to_published(),
                "predictions": self.predictions.to_published()}


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """A protocol run: its folds in order and the parameters it ran with.

    Attributes
    ----------
    protocol
        ``"WD"`` or ``"WI"``.
    folds
        One ``FoldResult`` per fold, in the order the single generator drew them.
    params
        The run's keyword arguments (users, protocol parameters, folds, seed, method).
    """

    protocol: str
    folds: tuple[FoldResult, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_published(self) -> list[dict[str, dict]]:
        """The list of per-fold dicts that the published ``--save-path`` pickle holds."""
        return [fold.to_published() for fold in self.folds]

    def summary(self) -> dict[str, tuple[float, float]]:
        """``{published metric name: (mean, std)}`` over folds (population std)."""
        return summarize(self.to_published())

    def report(self) -> str:
        """Per-fold lines, then every metric as mean (+- std); what the commands print."""
        lines = [format_fold(fold, i, len(self.folds)) for i, fold in enumerate(self.folds)]
        return "\n".join([*lines, format_console(self.to_published())])

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write the published pickle to ``path`` and the same content as JSON beside it
        (``.json``), both atomically; returns the two paths."""
        return save_results(path, self.to_published())


def format_fold(fold: FoldResult, index: int, total: int) -> str:
    """The one-line summary of fold ``index`` (0-based) of ``total``."""
    return (f"fold {index + 1}/{total}: EER {100 * fold.metrics.eer:.2f}%, "
            f"EER (user thresholds) {100 * fold.metrics.eer_user_thresholds:.2f}% "
            f"({fold.seconds:.1f} s)")
