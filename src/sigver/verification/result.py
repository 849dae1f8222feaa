"""The verdict on one questioned signature (``Verifier.verify``, ``sigver.verify``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on one questioned signature.

    Attributes
    ----------
    file
        The questioned file.
    user
        The claimed identity.
    score
        The score of ``method`` (higher: more likely genuine): the writer-independent
        classifier's score fused over the references, or the decision value of the
        person's writer-dependent SVM.
    threshold
        The decision threshold (the classifier's, 0 for an SVM, or the one asked for).
    is_genuine
        ``score >= threshold``.
    reference_scores
        ``(reference file, score)`` per enrolled reference, in enrollment order (the
        writer-independent classifier's scores, whatever the method).
    is_reference
        The questioned file is itself one of the user's references (its score is
        meaningless).
    method
        ``"wi"`` (writer-independent classifier) or ``"wd"`` (the person's SVM).
    """

    file: str
    user: str
    score: float
    threshold: float
    is_genuine: bool
    reference_scores: list[tuple[str, float]]
    is_reference: bool = False
    method: str = "wi"

    @property
    def decision(self) -> str:
        """``"genuine"`` or ``"forgery"``."""
        return "genuine" if self.is_genuine else "forgery"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {"file": self.file, "user": self.user, "method": self.method,
                "score": self.score, "threshold": self.threshold,
                "decision": self.decision, "is_reference": self.is_reference,
                "reference_scores": [{"reference": ref, "score": score}
                                     for ref, score in self.reference_scores]}
