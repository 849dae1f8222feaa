"""Choosing a verifier's decision threshold from development scores.

Scores are higher for "more likely genuine"; a questioned signature is accepted as genuine
when its score is at or above the threshold (the convention of docs/protocols-and-metrics.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sigver.errors import ParameterError, SigverError


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold and the error rates it gives on the scores it was chosen on.

    ``rule`` is ``"eer"`` or ``"far"``; ``target_far`` is set for the latter. Rates are
    fractions (0..1). ``far_random`` is NaN when no random-forgery scores were given.
    """

    threshold: float
    rule: str
    target_far: float | None
    frr: float
    far_skilled: float
    far_random: float
    negatives: str

    def as_dict(self) -> dict:
        """Plain types only (for JSON and the classifier file)."""
        return {k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in asdict(self).items()}


def error_rates(threshold: float, genuine: np.ndarray, negatives: np.ndarray) -> tuple[
        float, float]:
    """``(FRR, FAR)``: genuine scores below, negative scores at or above the threshold."""
    frr = float(np.mean(genuine < threshold)) if len(genuine) else float("nan")
    far = float(np.mean(negatives >= threshold)) if len(negatives) else float("nan")
    return frr, far


def threshold_at_eer(genuine: np.ndarray, negatives: np.ndarray) -> float:
    """The threshold where the false-rejection and false-acceptance rates meet.

    Same rule as the EER of the protocols (docs/protocols-and-metrics.md): among the ROC
    thresholds, the one minimising ``|FAR - FRR|``, the first (highest) on ties.
    """
    from sigver.performance.metrics import eer_threshold

    _check_scores(genuine, negatives)
    return eer_threshold(np.asarray(genuine, dtype=np.float64),
                         np.asarray(negatives, dtype=np.float64))


def threshold_at_far(negatives: np.ndarray, target_far: float,
                     genuine: np.ndarray | None = None) -> float:
    """The lowest threshold whose false-acceptance rate on ``negatives`` is <= ``target_far``.

    Lowest, so that as few genuine signatures as possible are rejected. With ``n``
    negatives at most ``floor(target_far * n)`` may be accepted; the threshold sits just
    above the next-highest negative score. ``genuine`` is only used for the input check.
    """
    if not 0.0 <= target_far <= 1.0:
        raise ParameterError("target_far", target_far, "must be between 0 and 1 (e.g. 0.01)")
    negatives = np.sort(np.asarray(negatives, dtype=np.float64))[::-1]
    _check_scores(np.ones(1) if genuine is None else genuine, negatives)
    allowed = int(np.floor(target_far * len(negatives) + 1e-9))
    if allowed >= len(negatives):
        return float(negatives[-1])
    return float(np.nextafter(negatives[allowed], np.inf))


def choose_threshold(genuine: np.ndarray, skilled: np.ndarray, random: np.ndarray,
                     target_far: float | None = None) -> OperatingPoint:
    """Pick the decision threshold on development scores.

    The negatives are the skilled forgeries when there are any (the field's hard case),
    else the random forgeries. Without ``target_far`` the threshold is at the EER of
    genuine vs those negatives; with it, the lowest threshold whose FAR on them is at most
    ``target_far``.
    """
    genuine = np.asarray(genuine, dtype=np.float64)
    skilled = np.asarray(skilled, dtype=np.float64)
    random = np.asarray(random, dtype=np.float64)
    negatives, kind = (skilled, "skilled") if len(skilled) else (random, "random")
    if target_far is None:
        threshold, rule = threshold_at_eer(genuine, negatives), "eer"
    else:
        threshold, rule = threshold_at_far(negatives, target_far, genuine), "far"
    frr, far_skilled = error_rates(threshold, genuine, skilled)
    far_random = error_rates(threshold, genuine, random)[1]
    return OperatingPoint(threshold=threshold, rule=rule, target_far=target_far, frr=frr,
                          far_skilled=far_skilled, far_random=far_random, negatives=kind)


def _check_scores(genuine: np.ndarray, negatives: np.ndarray) -> None:
    if len(genuine) == 0 or len(negatives) == 0:
        raise SigverError("choosing a threshold needs genuine and forgery scores of the "
                          "development users; the development set has "
                          f"{len(genuine)} genuine and {len(negatives)} forgery scores")
    if not (np.all(np.isfinite(genuine)) and np.all(np.isfinite(negatives))):
        raise SigverError("development scores contain NaN or infinite values")
