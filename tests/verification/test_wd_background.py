"""Writer-dependent SVMs against a background file, and the verification summary helpers."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest

from sigver.errors import SigverError
from sigver.synthetic.features import make_features
from sigver.verification import wd
from sigver.verification.background import (
    build_background,
    load_background,
    save_background,
)
from sigver.verification.summary import exit_status, summary_lines, with_threshold

DIM = 32


@pytest.fixture(scope="module")
def features():
    return make_features(n_users=12, n_genuine=10, n_skilled=5, dim=DIM, seed=5)


def rows(features, user, forg):
    return np.flatnonzero((features.y == user) & (features.yforg == forg))


def test_background_keeps_genuine_of_each_writer_and_round_trips(features, tmp_path):
    dev = dataclasses.replace(features, features=features.features[features.y >= 4],
                              y=features.y[features.y >= 4],
                              yforg=features.yforg[features.y >= 4],
                              filenames=features.filenames[features.y >= 4])
    background = build_background(dev, per_writer=6, seed=0)
    assert background.n_writers == 8 and len(background.features) == 48
    assert set(background.writers) == set(range(4, 12))
    # only genuine signatures: each kept row is one of its writer's genuine rows
    genuine = {tuple(np.round(f, 6)) for f in dev.features[dev.yforg == 0]}
    assert all(tuple(np.round(f, 6)) in genuine for f in background.features)
    path = tmp_path / "bg.npz"
    save_background(path, background)
    loaded = load_background(path)
    np.testing.assert_array_equal(loaded.features, background.features)
    assert loaded.model_sha256 == features.model_sha256 and loaded.settings is None
    with np.load(path, allow_pickle=False) as data:  # loads without pickles
        assert str(data["format"]) == "sigver-wd-background"
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(SigverError, match="not a sigver background file"):
        load_background(tmp_path / "other.npz")
    with pytest.raises(SigverError, match="per_writer=0"):
        build_background(dev, per_writer=0)


def test_person_svm_separates_the_writer_and_persists(features, tmp_path):
    background = build_background(features, per_writer=6)
    background = dataclasses.replace(
        background, features=background.features[background.writers != 0],
        writers=background.writers[background.writers != 0])
    genuine = rows(features, 0, 0)
    refs, held_out = genuine[:5], genuine[5:]
    hashes = [f"{i:064x}" for i in range(5)]
    svm = wd.fit_person_svm(features.features[refs], hashes, background, gamma=1 / DIM)
    assert (svm.n_references, svm.n_background) == (5, len(background.features))
    own = svm.decision_function(features.features[held_out])
    skilled = svm.decision_function(features.features[rows(features, 0, 1)])
    others = svm.decision_function(features.features[rows(features, 3, 0)])
    assert own.mean() > skilled.mean() and own.mean() > others.mean()
    assert np.mean(own >= wd.WD_THRESHOLD) > np.mean(others >= wd.WD_THRESHOLD)

    conn = sqlite3.connect(tmp_path / "db.sqlite")
    wd.ensure_table(conn)
    wd.store_person_svm(conn, "alice", svm)
    loaded = wd.load_person_svm(conn, "alice", list(reversed(hashes)), svm.model_sha256)
    np.testing.assert_allclose(loaded.decision_function(features.features[held_out]), own)
    # stale (other references or another model) means no SVM
    assert wd.load_person_svm(conn, "alice", hashes[:4], svm.model_sha256) is None
    assert wd.load_person_svm(conn, "alice", hashes, "0" * 64) is None
    wd.delete_person_svm(conn, "alice")
    assert wd.load_person_svm(conn, "alice", hashes, svm.model_sha256) is None

    assert wd.choose_method("auto", svm, "alice") == "wd"
    assert wd.choose_method("auto", None, "alice") == "wi"
    assert wd.choose_method("wi", svm, "alice") == "wi"
    with pytest.raises(SigverError, match="no writer-dependent SVM"):
        wd.choose_method("wd", None, "alice")
    with pytest.raises(SigverError, match="method='svm'"):
        wd.choose_method("svm", None, "alice")
    with pytest.raises(SigverError, match="at least 5 references"):
        wd.fit_person_svm(features.features[refs[:4]], hashes[:4], background)


@dataclasses.dataclass(frozen=True)
class Result:
    file: str
    score: float
    threshold: float
    is_genuine: bool


def test_threshold_override_summary_and_exit_status():
    results = [Result("a.png", 0.5, 0.0, True), Result("b.png", -0.2, 0.0, False)]
    assert with_threshold(results, None) == results
    strict = with_threshold(results, 0.6)
    assert [r.is_genuine for r in strict] == [False, False]
    assert all(r.threshold == 0.6 for r in strict)
    lenient = with_threshold(results, -0.2)
    assert [r.is_genuine for r in lenient] == [True, True]  # score >= threshold
    lines = summary_lines(results)
    assert lines[0].startswith("GENUINE") and lines[0].endswith("a.png")
    assert lines[1].startswith("FORGERY") and lines[-1] == "2 file(s): 1 genuine, 1 forgery"
    assert exit_status(results, fail_on_forgery=True) == 1
    assert exit_status(results, fail_on_forgery=False) == 0
    assert exit_status(lenient, fail_on_forgery=True) == 0
    with pytest.raises(SigverError, match="threshold"):
        with_threshold(results, float("nan"))


def test_database_file_helpers(features, tmp_path):
    background = build_background(features, per_writer=4)
    genuine = rows(features, 0, 0)[:5]
    hashes = [f"{i:064x}" for i in range(5)]
    db = tmp_path / "people.db"
    svm = wd.train_and_store(db, "bob", features.features[genuine], hashes, background)
    again = wd.person_svm_for(db, "bob", hashes, svm.model_sha256)
    np.testing.assert_array_equal(again.dual_coef, svm.dual_coef)
    assert wd.person_svm_for(db, "carol", hashes, svm.model_sha256) is None
