"""Measured properties of synthetic signatures, through a fixed HOG descriptor."""

from __future__ import annotations

import numpy as np
import pytest

from sigver.synthetic.generate import synthesize
from sigver.synthetic.measure import distance_report, hog_features
from sigver.synthetic.render import INK_STRENGTH, InkStroke, ink_density, spline


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_distance_ordering_holds_for_ninety_percent_of_fifty_writers():
    data = synthesize(50, 4, 3, seed=0, workers=2, progress=False)
    report = distance_report(data["x"], data["y"], data["yforg"])
    print(report.summary())
    assert len(report.writers) == 50
    assert report.share_ordered >= 0.9
    # On average forgeries sit clearly between the two, not on either edge.
    gg, sg, rg = (report.genuine_genuine.mean(), report.skilled_genuine.mean(),
                  report.random_genuine.mean())
    assert gg * 1.03 < sg < rg * 0.9


def test_forger_skill_moves_forgeries_towards_the_genuine_signatures():
    distances = {}
    for skill in (0.0, 1.0):
        data = synthesize(5, 2, 2, seed=4, skill=skill, progress=False)
        distances[skill] = distance_report(data["x"], data["y"], data["yforg"])
    clumsy, expert = distances[0.0], distances[1.0]
    np.testing.assert_allclose(clumsy.genuine_genuine, expert.genuine_genuine)
    assert clumsy.skilled_genuine.mean() > expert.skilled_genuine.mean()


def test_hog_descriptor_uses_the_centre_crop():
    x = np.zeros((2, 1, 170, 242), dtype=np.uint8)
    x[1, 0, :5, :] = 255  # outside the 150 x 220 centre crop
    x[:, 0, 80:90, 100:140] = 200
    feats = hog_features(x)
    assert feats.shape[0] == 2 and feats.dtype == np.float32
    np.testing.assert_array_equal(feats[0], feats[1])


def test_spline_passes_through_its_control_points_evenly_sampled():
    control = np.array([[0.0, 0.0], [30.0, 10.0], [60.0, -5.0], [80.0, 20.0]])
    points = spline(control, spacing=0.8)
    for c in control:
        assert np.min(np.linalg.norm(points - c, axis=1)) < 1e-9
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    assert steps.max() < 1.2 and steps.min() > 0.2


def test_stroke_width_follows_the_pen_radius():
    def width(radius):
        x = np.arange(20.0, 180.0, 0.8)
        stroke = InkStroke(np.column_stack([x, np.full_like(x, 50.0)]),
                           np.full(len(x), radius))
        density, (_, left) = ink_density([stroke], 100, 200)
        opacity = 1 - np.exp(-INK_STRENGTH * density[:, 100 - left])
        return (opacity > 0.5).sum()

    thin, thick = width(1.0), width(3.0)
    assert 1 <= thin <= 3 and 5 <= thick <= 7
