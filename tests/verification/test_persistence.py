"""The classifier file: plain arrays scored in numpy, equal to scikit-learn; old skops files."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from sigver.errors import SigverError
from sigver.verification.persistence import (
    MANIFEST,
    TrainedVerifier,
    load_verifier,
    save_verifier,
)
from sigver.wi.classifier import DichotomyClassifier
from sigver.wi.scoring import DichotomyScorer

SRC = Path(__file__).resolve().parents[2] / "src"
DIM = 12


def fitted(kernel: str, fusion: str = "max", seed: int = 0) -> DichotomyClassifier:
    """A dichotomy SVM on synthetic dissimilarity vectors (same writer: small)."""
    rng = np.random.default_rng(seed)
    same = np.abs(rng.normal(0, 0.4, (80, DIM))) * rng.uniform(0.5, 2, DIM)
    other = np.abs(rng.normal(0, 1.2, (80, DIM))) * rng.uniform(0.5, 2, DIM)
    return DichotomyClassifier(kernel, C=1.0, gamma=1 / DIM, fusion=fusion,
                               batch_rows=9).fit(np.r_[same, other],
                                                 np.r_[np.ones(80), -np.ones(80)])


def verifier_of(classifier, sha: str = "ab" * 32) -> TrainedVerifier:
    return TrainedVerifier(classifier=classifier, threshold=0.125, model_sha256=sha,
                           feature_dim=DIM,
                           operating_point={"rule": "eer", "frr": np.float64(0.1),
                                            "far_random": None},
                           training={"C": 1.0, "users": [1, 2]})


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_numpy_decision_function_equals_scikit_learn(kernel, tmp_path):
    clf = fitted(kernel, fusion="median")
    path = tmp_path / "wi.clf"
    save_verifier(path, verifier_of(clf))
    loaded = load_verifier(path)
    assert isinstance(loaded.classifier, DichotomyScorer)
    rng = np.random.default_rng(5)
    queries = np.abs(rng.normal(0, 1, (40, DIM)))
    # scikit-learn's own pipeline: StandardScaler then SVC.decision_function (libsvm)
    expected = clf.svm_.decision_function(clf.scaler_.transform(queries))
    np.testing.assert_allclose(loaded.classifier.decision_function(queries), expected,
                               rtol=1e-10, atol=1e-10)
    questioned, references = rng.normal(size=(5, DIM)), rng.normal(size=(3, DIM))
    fused, pair = loaded.score(questioned, references)
    diffs = np.abs(questioned[:, None] - references[None]).reshape(-1, DIM)
    np.testing.assert_allclose(
        pair.ravel(), clf.svm_.decision_function(clf.scaler_.transform(diffs)),
        rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fused, np.median(pair, axis=1))
    claims = [(rng.normal(size=(n, DIM)), references) for n in (2, 4, 1)]
    for (q, r), got in zip(claims, loaded.classifier.fused_scores_many(claims), strict=True):
        np.testing.assert_allclose(got, clf.fused_scores(q, r), atol=1e-12)


def test_plain_file_content_and_round_trip(tmp_path):
    path = tmp_path / "wi.skops"  # the name does not decide the format
    verifier = verifier_of(fitted("rbf", fusion="mean"))
    save_verifier(path, verifier)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(
            [MANIFEST, "scale.npy", "support_vectors.npy", "dual_coef.npy"])
        manifest = json.loads(archive.read(MANIFEST))
    assert manifest["format_version"] == 2 and manifest["classifier"]["kernel"] == "rbf"
    assert manifest["classifier"]["gamma"] == 1 / DIM
    loaded = load_verifier(path)
    assert (loaded.threshold, loaded.model_sha256, loaded.feature_dim, loaded.fusion) == (
        0.125, "ab" * 32, DIM, "mean")
    assert loaded.operating_point == {"rule": "eer", "frr": 0.1, "far_random": None}
    assert loaded.training == {"C": 1.0, "users": [1, 2]}
    scorer = verifier.classifier.to_scorer()
    np.testing.assert_array_equal(loaded.classifier.support_vectors, scorer.support_vectors)
    assert loaded.classifier.intercept == scorer.intercept  # exact through JSON
    # a loaded file saves again unchanged
    save_verifier(tmp_path / "again.clf", loaded)
    np.testing.assert_array_equal(load_verifier(tmp_path / "again.clf").classifier.dual_coef,
                                  scorer.dual_coef)


def test_skops_files_of_earlier_versions_still_load(tmp_path):
    clf = fitted("rbf")
    old = tmp_path / "old.skops"
    sio.dump({"format": "sigver-wi-verifier", "format_version": 1, "classifier": clf,
              "threshold": -0.25, "model_sha256": "cd" * 32, "feature_dim": DIM,
              "operating_point": {"rule": "eer"}, "training": {"C": 1.0}}, old)
    loaded = load_verifier(old)
    assert loaded.threshold == -0.25 and loaded.model_sha256 == "cd" * 32
    queries = np.abs(np.random.default_rng(2).normal(0, 1, (7, DIM)))
    np.testing.assert_allclose(loaded.classifier.decision_function(queries),
                               clf.reference_decision_function(queries), atol=1e-10)
    sio.dump({"format": "sigver-wi-verifier", "format_version": 7}, tmp_path / "v7.skops")
    with pytest.raises(SigverError, match="format version 7, this sigver reads 1 and 2"):
        load_verifier(tmp_path / "v7.skops")


def test_damaged_plain_files_are_one_line_errors(tmp_path):
    path = tmp_path / "wi.clf"
    save_verifier(path, verifier_of(fitted("linear")))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.clf"
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(SigverError, match=r"truncated.clf: not a sigver classifier file"):
        load_verifier(truncated)

    def rewrite(name: str, **replace: bytes) -> Path:
        target = tmp_path / name
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
            for member in src.namelist():
                if member in replace:
                    if replace[member] is not None:
                        dst.writestr(member, replace[member])
                else:
                    dst.writestr(member, src.read(member))
        return target

    missing = rewrite("missing.clf", **{"dual_coef.npy": None})
    with pytest.raises(SigverError, match="missing.clf: damaged classifier file"):
        load_verifier(missing)
    manifest = json.loads(zipfile.ZipFile(path).read(MANIFEST))
    manifest["feature_dim"] = DIM + 1
    wrong_dim = rewrite("dim.clf", **{MANIFEST: json.dumps(manifest)})
    with pytest.raises(SigverError, match="scores 12-d features, it records 13"):
        load_verifier(wrong_dim)
    manifest["feature_dim"], manifest["classifier"]["kernel"] = DIM, "poly"
    with pytest.raises(SigverError, match="damaged classifier file.*kernel"):
        load_verifier(rewrite("poly.clf", **{MANIFEST: json.dumps(manifest)}))
    with pytest.raises(SigverError, match="not a sigver classifier file"):
        load_verifier(rewrite("other.clf", **{MANIFEST: b'{"format": "x"}'}))
    pickled = rewrite("pickled.clf", **{"scale.npy": _npy(np.array([object()] * DIM))})
    with pytest.raises(SigverError, match="pickled.clf: damaged classifier file"):
        load_verifier(pickled)


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_loading_and_scoring_import_neither_scikit_learn_nor_skops(tmp_path):
    path = tmp_path / "wi.clf"
    save_verifier(path, verifier_of(fitted("rbf")))
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from sigver.verification.persistence import load_verifier\n"
        f"v = load_verifier({str(path)!r})\n"
        f"fused, _ = v.score(np.ones((2, {DIM})), np.zeros((3, {DIM})))\n"
        "heavy = sorted(m for m in ('sklearn', 'skops', 'torch', 'scipy') if m in sys.modules)\n"
        "print(fused.shape, heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC)}, check=True).stdout
    assert out.strip() == "(2,) []"
