"""How hard a synthetic set is, seen through a fixed simple descriptor.

HOG (scikit-image) on the 150 x 220 centre crop of each processed image; per writer, the
mean Euclidean distance between their genuine signatures (genuine-genuine), between their
skilled forgeries and genuine signatures (skilled-genuine) and between other writers'
genuine signatures and theirs (random-genuine). A realistic set has, for nearly every
writer, genuine-genuine < skilled-genuine < random-genuine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.feature import hog

from sigver.preprocessing.normalize import crop_center


def hog_features(x: np.ndarray, input_size: tuple[int, int] = (150, 220)) -> np.ndarray:
    """HOG descriptors (N x D, float32) of processed images (N x 1 x H x W or N x H x W)."""
    images = np.asarray(x).reshape(len(x), *np.shape(x)[-2:])
    return np.stack([
        hog(crop_center(img, input_size), orientations=9, pixels_per_cell=(10, 10),
            cells_per_block=(2, 2), feature_vector=True).astype(np.float32)
        for img in images])


@dataclass(frozen=True)
class DistanceReport:
    """Per-writer mean HOG distances; ``writers`` lists the writer indices in order."""

    writers: np.ndarray
    genuine_genuine: np.ndarray
    skilled_genuine: np.ndarray
    random_genuine: np.ndarray

    @property
    def ordered(self) -> np.ndarray:
        """Per writer: genuine-genuine < skilled-genuine < random-genuine."""
        return ((self.genuine_genuine < self.skilled_genuine)
                & (self.skilled_genuine < self.random_genuine))

    @property
    def share_ordered(self) -> float:
        """Share of writers whose distances are ordered."""
        return float(self.ordered.mean())

    def summary(self) -> str:
        """The three mean distances and the share of ordered writers, as printed."""
        return (f"HOG distance to genuine signatures, mean over {len(self.writers)} writers: "
                f"genuine {self.genuine_genuine.mean():.4f}, "
                f"skilled {self.skilled_genuine.mean():.4f}, "
                f"random {self.random_genuine.mean():.4f}\n"
                f"writers with genuine < skilled < random: {self.ordered.sum()} of "
                f"{len(self.writers)} ({100 * self.share_ordered:.1f} %)")


def distance_report(x: np.ndarray, y: np.ndarray, yforg: np.ndarray) -> DistanceReport:
    """Measure the distance ordering of a processed set (needs >= 2 writers, each with
    >= 2 genuine signatures and >= 1 skilled forgery)."""
    y, yforg = np.asarray(y), np.asarray(yforg)
    feats = hog_features(x)
    genuine = yforg == 0
    writers = np.unique(y)
    gg, sg, rg = [], [], []
    for w in writers:
        own = feats[genuine & (y == w)]
        forged = feats[(yforg == 1) & (y == w)]
        others = feats[genuine & (y != w)]
        if len(own) < 2 or len(forged) == 0 or len(others) == 0:
            raise ValueError(f"writer {w} needs >= 2 genuine signatures, >= 1 skilled "
                             "forgery and another writer to measure distances")
        within = _pairwise(own, own)
        gg.append(within[np.triu_indices(len(own), k=1)].mean())
        sg.append(_pairwise(forged, own).mean())
        rg.append(_pairwise(others, own).mean())
    return DistanceReport(writers, np.array(gg), np.array(sg), np.array(rg))


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))
