"""GPDS-shaped synthetic CNN features, for testing and benchmarking the WD / WI protocols
without images or a model.

Each user has a mean; genuine signatures scatter around it, skilled forgeries around a
point displaced from it (the forger imitates the shape, not the writer's motor habits),
and everything passes through a ReLU like SigNet's last layer, so the vectors are
non-negative and partly sparse.
"""

from __future__ import annotations

import numpy as np

from sigver.features import FeatureSet

GPDS_USERS = 881
GPDS_GENUINE = 24
GPDS_SKILLED = 30
SIGNET_DIM = 2048


def make_features(n_users: int = GPDS_USERS, n_genuine: int = GPDS_GENUINE,
                  n_skilled: int = GPDS_SKILLED, dim: int = SIGNET_DIM, *,
                  latent_dim: int = 48, user_spread: float = 1.0,
                  genuine_spread: float = 0.6, skilled_shift: float = 0.8,
                  skilled_spread: float = 0.6, feature_noise: float = 0.3,
                  first_user: int = 0, seed: int = 0) -> FeatureSet:
    """Draw a synthetic feature set.

    Writers live in a ``latent_dim``-dimensional space that a fixed random linear map
    spreads over the ``dim`` features (CNN features are strongly correlated: their
    variation has far fewer directions than dimensions); independent per-feature noise
    and a ReLU follow. The spreads below are in latent units.

    Parameters
    ----------
    n_users, n_genuine, n_skilled, dim
        Users, genuine signatures and skilled forgeries per user, feature dimension
        (GPDS with SigNet: 881, 24, 30, 2048).
    latent_dim
        Dimension of the writer space.
    user_spread
        Standard deviation of the users' means around the common mean.
    genuine_spread
        Standard deviation of a genuine signature around its user's mean.
    skilled_shift
        Standard deviation of the displacement from a user's mean to its forgers' mean.
    skilled_spread
        Standard deviation of a skilled forgery around the forgers' mean.
    feature_noise
        Standard deviation of the independent noise of each feature.
    first_user
        Label of the first user (users are ``first_user ... first_user + n_users - 1``).
    seed
        Seed of the generator; equal seeds give equal sets.

    Returns
    -------
    FeatureSet
        float32 features, users in blocks (genuine first, ``yforg`` 0, then skilled,
        ``yforg`` 1); ``model_sha256`` is ``"synthetic"``.
    """
    rng = np.random.default_rng(seed)
    per_user = n_genuine + n_skilled
    projection = rng.normal(0.0, 1.0 / np.sqrt(latent_dim), (latent_dim, dim))
    offset = rng.normal(0.3, 0.3, dim)
    latent = np.empty((n_users * per_user, latent_dim))
    for u in range(n_users):
        mean = rng.normal(0.0, user_spread, latent_dim)
        forger_mean = mean + rng.normal(0.0, skilled_shift, latent_dim)
        block = latent[u * per_user:(u + 1) * per_user]
        block[:n_genuine] = mean + rng.normal(0.0, genuine_spread, (n_genuine, latent_dim))
        block[n_genuine:] = forger_mean + rng.normal(0.0, skilled_spread,
                                                     (n_skilled, latent_dim))
    features = (latent @ projection + offset).astype(np.float32)
    features += rng.normal(0.0, feature_noise, features.shape).astype(np.float32)
    np.maximum(features, 0.0, out=features)
    y = np.repeat(np.arange(first_user, first_user + n_users), per_user)
    yforg = np.tile(np.r_[np.zeros(n_genuine, int), np.ones(n_skilled, int)], n_users)
    filenames = np.array([f"synthetic/{user}_{i}" for user in range(n_users)
                          for i in range(per_user)])
    return FeatureSet(features, y, yforg, filenames, "synthetic")
