"""A tiny drawn dataset store and training settings for the feature-learning tests."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from skimage.draw import line_aa

from sigver.datasets.util import save_dataset
from sigver.settings import PreprocessingSettings

# What the toy store records (its images are 170 x 242, as after preprocessing).
TOY_SETTINGS = PreprocessingSettings(canvas_size=(400, 600), img_size=(170, 242),
                                     input_size=(150, 220))


def draw_store(path: str | Path, n_users: int = 6, n_genuine: int = 5, n_forgeries: int = 1,
               settings: PreprocessingSettings | None = TOY_SETTINGS) -> Path:
    """Per-user stroke patterns (170 x 242, ink bright); forgeries distort the strokes."""
    rng = np.random.RandomState(0)
    images, users, forg = [], [], []
    for user in range(n_users):
        points = np.random.RandomState(100 + user).randint([20, 20], [150, 222], (6, 2))
        for i in range(n_genuine + n_forgeries):
            spread = 4 if i < n_genuine else 15
            jittered = points + rng.randint(-spread, spread + 1, points.shape)
            jittered = np.clip(jittered, 0, [169, 241])
            img = np.zeros((170, 242), np.uint8)
            for a, b in itertools.pairwise(jittered):
                rr, cc, val = line_aa(a[0], a[1], b[0], b[1])
                img[rr, cc] = np.maximum(img[rr, cc], (val * 255).astype(np.uint8))
            images.append(img[None])
            users.append(user)
            forg.append(0 if i < n_genuine else 1)
    save_dataset(path, np.stack(images), np.array(users), np.array(forg),
                 list(range(n_users)), [f"img{i}.png" for i in range(len(users))],
                 settings=settings)
    return Path(path)
