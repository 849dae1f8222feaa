"""The batcher gathers concurrent requests into shared forward passes; API keys and the
``sigver keys`` / ``sigver serve`` commands."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")

from sigver.cli import main as sigver_main
from sigver.serve.batching import FeatureBatcher
from sigver.serve.keys import KeyChecker, create_key, list_keys, revoke_key


def test_concurrent_requests_share_batches_and_get_their_own_features():
    calls = []

    def compute(images):
        calls.append(len(images))
        time.sleep(0.02)  # a forward pass takes time: requests queue meanwhile
        return np.array([[float(i), 2.0 * i] for i in images])

    batcher = FeatureBatcher(compute, max_batch=64, max_wait_s=0.05)
    results = {}

    def request(n):
        with batcher.incoming():
            time.sleep(0.001 * (n % 5))  # "preprocessing"
        results[n] = batcher.submit([n, n + 1000]).result(timeout=10)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    for n, features in results.items():
        np.testing.assert_array_equal(features, [[n, 2 * n], [n + 1000, 2 * (n + 1000)]])
    assert sum(calls) == 80 and len(calls) < 40 and max(calls) <= 64


def test_a_failed_pass_fails_its_requests_only():
    def compute(images):
        if "bad" in images:
            raise ValueError("boom")
        return np.zeros((len(images), 1))

    batcher = FeatureBatcher(compute, max_wait_s=0.0)
    with pytest.raises(ValueError, match="boom"):
        batcher.submit(["bad"]).result(timeout=10)
    assert batcher.submit(["ok"]).result(timeout=10).shape == (1, 1)
    batcher.close()


def test_keys_are_hashed_roled_and_revocable(tmp_path, capsys):
    db = tmp_path / "keys.db"
    key_id, token = create_key(db, "verify", "clerk")
    checker = KeyChecker(db)
    assert checker.role(token) == "verify"
    assert checker.role(token[:-1]) is None and checker.role("") is None
    assert token.encode() not in db.read_bytes()
    revoke_key(db, key_id)
    assert checker.role(token) is None
    capsys.readouterr()
    assert sigver_main(["keys", "create", "--db", str(db), "--role", "admin",
                        "--name", "boss"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "key 2 (admin) created; it is shown only now:"
    assert checker.role(printed[1]) == "admin"
    assert sigver_main(["keys", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "1\tverify\trevoked" in listing and "2\tadmin\tactive" in listing
    assert printed[1] not in listing
    assert [k.role for k in list_keys(db)] == ["verify", "admin"]
    assert sigver_main(["keys", "revoke", "--db", str(db), "7"]) == 2
    assert "no active key with id 7" in capsys.readouterr().err


def test_serve_without_the_extra_names_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert sigver_main(["serve", "--db", "x.db", "--classifier", "wi.skops"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sigver[serve]" in err and "uvicorn" in err


def test_serve_refuses_a_database_without_model(tmp_path, capsys):
    serve = ["serve", "--db", str(tmp_path / "new.db"), "--classifier",
             str(tmp_path / "wi.skops")]
    assert sigver_main(serve) == 2
    assert "no such enrollment database" in capsys.readouterr().err
    create_key(tmp_path / "new.db", "admin")  # creates an empty database
    assert sigver_main(serve) == 2
    # nobody enrolled and no --model-path: the built-in model, which this classifier
    # file (absent) cannot be checked against
    assert "wi.skops" in capsys.readouterr().err


def test_a_new_database_serves_the_builtin_model_and_classifier(tmp_path):
    from sigver import pretrained
    from sigver.io import file_sha256
    from sigver.serve.backend import Backend
    from sigver.verification.persistence import load_verifier

    create_key(tmp_path / "new.db", "admin")
    backend = Backend(tmp_path / "new.db")
    assert backend.model.sha256 == file_sha256(pretrained.model_path())
    shipped = load_verifier(pretrained.classifier_path())
    assert backend.classifier.threshold == shipped.threshold
    assert backend.settings.preprocessing == pretrained_settings()


def pretrained_settings():
    from sigver import pretrained
    from sigver.settings import read_model_settings

    return read_model_settings(pretrained.model_path())


def test_the_builtin_classifier_refuses_another_model(tmp_path, world):
    from sigver.errors import SigverError
    from sigver.serve.backend import Backend

    create_key(tmp_path / "new.db", "admin")
    with pytest.raises(SigverError, match="--classifier is needed"):
        Backend(tmp_path / "new.db", model_path=world["model"], canvas_size=world["canvas"])
