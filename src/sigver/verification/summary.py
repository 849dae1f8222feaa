"""Helpers for reporting verification results: a threshold override, a one-line-per-file
summary with a tally, and the exit status that fails on forgeries (``sigver verify
--threshold / --summary / --fail-on-forgery``, and the service's ``threshold``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any


def check_threshold(threshold: float | None) -> float | None:
    """A finite float or None (one-line error otherwise)."""
    from sigver.errors import ParameterError

    if threshold is None:
        return None
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ParameterError("threshold", threshold, "must be a number") from None
    if not math.isfinite(value):
        raise ParameterError("threshold", threshold, "must be a finite number")
    return value


def with_threshold(results: Sequence[Any], threshold: float | None) -> list[Any]:
    """The results decided again at ``threshold`` (unchanged when it is None).

    Works on any frozen dataclass with ``score``, ``threshold`` and ``is_genuine``
    fields (``sigver.verification.api.VerificationResult``).
    """
    threshold = check_threshold(threshold)
    if threshold is None:
        return list(results)
    return [dataclasses.replace(r, threshold=threshold, is_genuine=bool(r.score >= threshold))
            for r in results]


def summary_lines(results: Sequence[Any]) -> list[str]:
    """One line per questioned file (decision, score, threshold, file), then a tally."""
    lines = [f"{'GENUINE' if r.is_genuine else 'FORGERY'}  {r.score:9.4f}  "
             f"(threshold {r.threshold:.4f})  {r.file}" for r in results]
    forgeries = sum(not r.is_genuine for r in results)
    lines.append(f"{len(results)} file(s): {len(results) - forgeries} genuine, "
                 f"{forgeries} forgery")
    return lines


def exit_status(results: Sequence[Any], fail_on_forgery: bool) -> int:
    """1 when ``fail_on_forgery`` and any file was judged a forgery, else 0."""
    return int(fail_on_forgery and any(not r.is_genuine for r in results))
