"""ROC and DET curves and score histograms of protocol results, as PNG files.

Figures are built with ``matplotlib.figure.Figure`` (rendered by the Agg canvas), so
nothing depends on, or changes, the caller's pyplot backend. Every function takes
``runs``: a mapping run name -> list of fold results; scores are pooled over folds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import norm
from sklearn.metrics import det_curve, roc_curve

from sigver.io import atomic_output
from sigver.protocols.results import Folds, pooled_scores

# DET axes run over these error rates (normal-deviate scale).
DET_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)


def _labelled(scores: dict[str, np.ndarray], negative: str) -> tuple[np.ndarray, np.ndarray]:
    genuine, impostor = scores["genuine"], scores[negative]
    labels = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    return labels, np.r_[genuine, impostor]


def _negatives(scores: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    kinds = [("skilled", "-"), ("random", "--")]
    return [(kind, style) for kind, style in kinds if len(scores[kind])]


def roc_figure(runs: Mapping[str, Folds]) -> Figure:
    """ROC curves (genuine vs skilled, solid; genuine vs random, dashed) of each run."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    for name, folds in runs.items():
        scores = pooled_scores(folds)
        for kind, style in _negatives(scores):
            fpr, tpr, _ = roc_curve(*_labelled(scores, kind))
            ax.plot(fpr, tpr, style, label=f"{name}: {kind}")
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set(xlabel="false acceptance rate", ylabel="true acceptance rate (1 - FRR)",
           title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def det_figure(runs: Mapping[str, Folds]) -> Figure:
    """DET curves (FRR vs FAR on normal-deviate axes) of each run."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    eps = DET_TICKS[0] / 2
    for name, folds in runs.items():
        scores = pooled_scores(folds)
        for kind, style in _negatives(scores):
            far, frr, _ = det_curve(*_labelled(scores, kind))
            ax.plot(norm.ppf(np.clip(far, eps, 1 - eps)), norm.ppf(np.clip(frr, eps, 1 - eps)),
                    style, label=f"{name}: {kind}")
    ticks = norm.ppf(DET_TICKS)
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    limits = (norm.ppf(eps), norm.ppf(DET_TICKS[-1]))
    ax.set(xlabel="false acceptance rate (%)", ylabel="false rejection rate (%)",
           title="DET", xlim=limits, ylim=limits)
    ax.grid(True, linewidth=0.4)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def histogram_figure(folds: Folds, title: str = "") -> Figure:
    """Histograms of the genuine, random-forgery and skilled-forgery scores of one run,
    with the mean EER threshold."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    scores = pooled_scores(folds)
    everything = np.concatenate(list(scores.values()))
    bins = np.linspace(everything.min(), everything.max(), 50)
    for kind, colour in (("genuine", "tab:green"), ("random", "tab:blue"),
                         ("skilled", "tab:red")):
        if len(scores[kind]):
            ax.hist(scores[kind], bins=bins, alpha=0.5, density=True, color=colour,
                    label=f"{kind} ({len(scores[kind])})")
    threshold = np.mean([f["all_metrics"]["global_threshold"] for f in folds])
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label="EER threshold")
    ax.set(xlabel="score", ylabel="density", title=f"Scores {title}".strip())
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _save(fig: Figure, path: Path) -> Path:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return path


def write_plots(directory: str | os.PathLike, runs: Mapping[str, Folds]) -> list[Path]:
    """Write ``roc.png``, ``det.png`` and one ``scores_<run>.png`` per run into
    ``directory`` (created if missing). Returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [_save(roc_figure(runs), directory / "roc.png"),
               _save(det_figure(runs), directory / "det.png")]
    for name, folds in runs.items():
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        written.append(_save(histogram_figure(folds, name), directory / f"scores_{safe}.png"))
    return written
