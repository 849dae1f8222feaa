"""Results of a protocol run: files (pickle for the published tooling, JSON for safe
reading), mean +- std tables (console, Markdown) and figures (ROC, DET, histograms).

A run is the list of its folds' results, each ``{'all_metrics': {...}, 'predictions':
{'genuinePreds', 'randomPreds', 'skilledPreds'}}`` (docs/protocols-and-metrics.md). The
table and plot functions take such lists, so reports can be built from Python for several runs.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sigver.errors import ParameterError
from sigver.io import atomic_output

# Scalar metrics in table order, with the label used in tables; rates shown in %.
METRICS = (("EER", "EER (global threshold)", True),
           ("EER_userthresholds", "EER (user thresholds)", True),
           ("mean_AUC", "mean AUC", False),
           ("FRR", "FRR", True),
           ("FAR_random", "FAR random", True),
           ("FAR_skilled", "FAR skilled", True),
           ("global_threshold", "EER threshold", False))

Folds = Sequence[Mapping]


def json_path(save_path: str | os.PathLike) -> Path:
    """The JSON file written beside a ``--save-path`` pickle (same name, ``.json``)."""
    return Path(save_path).with_suffix(".json")


def _plain(value):
    """numpy values -> JSON values (NaN -> null)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return value


def save_results(path: str | os.PathLike, folds: Folds) -> tuple[Path, Path]:
    """Write the folds as a pickle (what the published tooling reads) and as JSON beside
    it, both atomically. Returns the two paths."""
    path = Path(path)
    if path.suffix.lower() in (".json", ".md"):
        raise ParameterError("path", str(path), "the pickle needs its own name (e.g. "
                             "results.pickle); the JSON is written beside it")
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        pickle.dump(list(folds), handle)
    target = json_path(path)
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(_plain(list(folds))))
    return path, target


def load_results_json(path: str | os.PathLike) -> list[dict]:
    """Read a results JSON back, score lists as float arrays (null -> NaN)."""
    folds = json.loads(Path(path).read_text())
    for fold in folds:
        metrics = fold["all_metrics"]
        metrics["auc_list"] = np.array([np.nan if a is None else a
                                        for a in metrics["auc_list"]])
        fold["predictions"] = {key: [np.asarray(p, dtype=np.float64) for p in value]
                               for key, value in fold["predictions"].items()}
    return folds


def summarize(folds: Folds) -> dict[str, tuple[float, float]]:
    """``{metric: (mean, std)}`` over folds for every scalar metric (population std)."""
    return {key: (float(np.mean([f["all_metrics"][key] for f in folds])),
                  float(np.std([f["all_metrics"][key] for f in folds])))
            for key, _, _ in METRICS}


def _cell(mean: float, std: float, percent: bool) -> str:
    if percent:
        return f"{100 * mean:.2f} (+- {100 * std:.2f})"
    return f"{mean:.4f} (+- {std:.4f})"


def format_console(folds: Folds) -> str:
    """Every metric as mean (+- std) over folds, rates in %, one per line."""
    width = max(len(label) for _, label, _ in METRICS)
    summary = summarize(folds)
    lines = [f"{len(folds)} fold(s):"]
    lines += [f"  {label + (' (%)' if pct else ''):<{width + 4}} {_cell(*summary[key], pct)}"
              for key, label, pct in METRICS]
    return "\n".join(lines)


def markdown_table(runs: Mapping[str, Folds]) -> str:
    """A Markdown table, one row per run (name -> folds), one column per metric."""
    header = "| run | folds | " + " | ".join(
        label + (" (%)" if pct else "") for _, label, pct in METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 2)]
    for name, folds in runs.items():
        summary = summarize(folds)
        cells = [_cell(*summary[key], pct).replace("+-", "±") for key, _, pct in METRICS]
        lines.append(f"| {name} | {len(folds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: str | os.PathLike, runs: Mapping[str, Folds],
                   title: str = "Verification results") -> Path:
    """Write ``markdown_table(runs)`` under a title, atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(f"# {title}\n\nMean ± standard deviation over folds.\n\n"
                             + markdown_table(runs))
    return Path(path)


def pooled_scores(folds: Folds) -> dict[str, np.ndarray]:
    """All folds' genuine / random / skilled scores, each pooled into one array."""
    return {kind: np.concatenate([np.concatenate(f["predictions"][key]) for f in folds])
            for kind, key in (("genuine", "genuinePreds"), ("random", "randomPreds"),
                              ("skilled", "skilledPreds"))}
