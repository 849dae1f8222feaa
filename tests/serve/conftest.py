"""Fixtures of the service's tests: one synthetic world per session (model, WI
classifier, WD background, scans), and a fresh database with keys per test."""

from __future__ import annotations

import pytest

from serve_world import build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    pytest.importorskip("fastapi")
    return build_world(tmp_path_factory.mktemp("serve-world"))


@pytest.fixture
def service(world, tmp_path):
    """A database with an admin and a verify key, and a factory of TestClients on it."""
    from fastapi.testclient import TestClient

    from sigver.serve.app import ServeConfig, create_app
    from sigver.serve.keys import create_key
    from sigver.serve.limits import Limits

    db = tmp_path / "service.db"
    _, admin = create_key(db, "admin", "test admin")
    _, verify = create_key(db, "verify", "test clerk")

    def client(**limits) -> TestClient:
        config = ServeConfig(db=str(db), classifier=str(world["classifier"]),
                             background=str(world["background"]),
                             model_path=str(world["model"]), canvas_size=world["canvas"],
                             limits=Limits(**limits), image_dir=str(tmp_path / "images"))
        return TestClient(create_app(config))

    return {"db": db, "admin": {"X-API-Key": admin}, "verify": {"X-API-Key": verify},
            "admin_key": admin, "verify_key": verify, "client": client}
