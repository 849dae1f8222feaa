"""Which users' rates the exact WD method's working set could have changed
(docs/reproducing.md, "What the exact WD method computes").

The working set finds libsvm's solution to libsvm's tolerance, not libsvm's own last
iterate, so its scores differ from the straightforward fold's by up to about 1e-3
(measured: 4.3e-4 at GPDS shape, 6.3e-4 on small RBF folds, 3.3e-3 with the linear
kernel). A metric changes only where such a difference moves a score across a
threshold or past a score it is compared with:

* FRR / FAR: a score near the decision threshold;
* the global EER: a genuine or skilled score near the EER threshold;
* a user's AUC and EER threshold: one of its genuine scores near one of its skilled
  scores.

The users with any score that close are refitted with the straightforward per-user
pipeline (their scores are then libsvm's own), which leaves every metric equal to the
straightforward fold's unless a score moved by more than the margin.
"""

from __future__ import annotations

import numpy as np

# Scores closer than this to what they are compared with get their user refitted: over
# twice the largest deviation measured for the RBF kernel, three times the linear's.
# (At GPDS shape, 1e-3 refits about 20 of 300 users, 2e-3 about 30.)
MARGIN = {"rbf": 1e-3, "linear": 1e-2}


def uncertain_users(predictions: dict, users: list[int], *, decision_threshold: float,
                    eer_threshold: float, margin: float) -> list[int]:
    """Users with a score within ``margin`` of something a metric compares it with.

    Parameters
    ----------
    predictions
        ``{'genuinePreds', 'randomPreds', 'skilledPreds'}``, one array per user.
    users
        The user of each entry of the lists.
    decision_threshold
        The threshold of FRR / FAR.
    eer_threshold
        The global EER threshold of these scores.
    margin
        How close counts as near.
    """
    flagged = []
    for i, user in enumerate(users):
        genuine = np.asarray(predictions["genuinePreds"][i])
        skilled = np.asarray(predictions["skilledPreds"][i])
        every = np.concatenate([genuine, predictions["randomPreds"][i], skilled])
        near = bool(np.any(np.abs(every - decision_threshold) < margin))
        near |= bool(np.any(np.abs(np.concatenate([genuine, skilled]) - eer_threshold)
                            < margin))
        if len(genuine) and len(skilled):
            near |= bool(np.min(np.abs(genuine[:, None] - skilled[None, :])) < margin)
        if near:
            flagged.append(user)
    return flagged
