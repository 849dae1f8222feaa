"""``sigver wi fit``: training the deployable WI classifier, choosing its threshold, and the
safe classifier file."""

import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from sigver.cli import main as sigver_main
from sigver.errors import ParameterError, SigverError
from sigver.features import save_features
from sigver.synthetic.features import make_features
from sigver.verification.fit import fit_verifier
from sigver.verification.persistence import load_verifier, save_verifier
from sigver.verification.threshold import choose_threshold, error_rates, threshold_at_far

DIM = 32


@pytest.fixture(scope="module")
def dev_features():
    return make_features(n_users=18, n_genuine=10, n_skilled=6, dim=DIM, seed=3)


def fit(dev_features, **kwargs):
    params = dict(num_gen_train=6, num_gen_ref=4, gamma=1 / DIM, calibration_folds=3)
    params.update(kwargs)
    return fit_verifier(dev_features.as_tuple(), dev_features.model_sha256, **params)


def test_threshold_rules_on_calibration_scores(dev_features):
    verifier, cal = fit(dev_features)
    # 18 users in 3 groups of 6: every user keeps 4 references and verifies its other 6
    # genuines, its 6 skilled forgeries and one genuine of each of the 5 other group users
    assert [len(cal[k]) for k in ("genuine", "skilled", "random")] == [108, 108, 90]
    assert cal["genuine"].mean() > cal["skilled"].mean() > cal["random"].mean()
    point = verifier.operating_point
    assert point["rule"] == "eer" and point["negatives"] == "skilled"
    frr, far = error_rates(verifier.threshold, cal["genuine"], cal["skilled"])
    assert (frr, far) == (point["frr"], point["far_skilled"])
    # the EER threshold is a development score where the two error rates meet
    assert verifier.threshold in np.concatenate([cal["genuine"], cal["skilled"]])
    assert abs(frr - far) < 0.02 and 0.05 < frr < 0.5

    strict, cal2 = fit(dev_features, target_far=0.05)
    np.testing.assert_array_equal(cal2["skilled"], cal["skilled"])  # same seed, same draws
    assert strict.operating_point["far_skilled"] <= 0.05
    assert strict.threshold > verifier.threshold
    # lowest such threshold: one step lower, one more forgery would be accepted
    below = cal["skilled"][cal["skilled"] < strict.threshold].max()
    assert error_rates(below, cal["genuine"], cal["skilled"])[1] > 0.05


def test_threshold_at_far_counts_exactly():
    negatives = np.arange(1, 11) / 10.0  # 0.1 .. 1.0
    threshold = threshold_at_far(negatives, 0.2)
    assert 0.8 < threshold < 0.81
    assert np.mean(negatives >= threshold) == 0.2
    assert threshold_at_far(negatives, 0.0) > 1.0
    assert threshold_at_far(negatives, 1.0) == 0.1
    with pytest.raises(ParameterError, match=r"^target_far=1.5: must be between 0 and 1"):
        threshold_at_far(negatives, 1.5)
    # without skilled forgeries the random forgeries are the negatives
    point = choose_threshold(np.array([0.9, 1.0]), np.empty(0), negatives, target_far=0.1)
    assert point.negatives == "random" and point.far_random == 0.1
    assert point.as_dict()["far_skilled"] is None
    with pytest.raises(SigverError, match="needs genuine and forgery scores"):
        choose_threshold(np.empty(0), negatives, negatives)


def test_classifier_file_round_trip_and_determinism(dev_features, tmp_path):
    verifier, _ = fit(dev_features, fusion="mean")
    path = tmp_path / "wi.skops"
    save_verifier(path, verifier)
    loaded = load_verifier(path)
    assert zipfile.is_zipfile(path)  # a skops archive, not a pickle
    assert loaded.threshold == verifier.threshold and loaded.fusion == "mean"
    assert loaded.model_sha256 == dev_features.model_sha256 and loaded.feature_dim == DIM
    assert loaded.operating_point == verifier.operating_point
    assert loaded.training["num_gen_ref"] == 4 and loaded.training["development_users"] == 18
    x, y, yforg = make_features(n_users=2, n_genuine=10, n_skilled=6, dim=DIM,
                                seed=9).as_tuple()
    references, questioned = x[(y == 0) & (yforg == 0)][:4], x[y == 0][4:]
    fused, pair = loaded.score(questioned, references)
    np.testing.assert_allclose(fused, verifier.score(questioned, references)[0], atol=1e-12)
    np.testing.assert_allclose(fused, pair.mean(axis=1))
    assert pair.shape == (len(questioned), 4)
    # libsvm's own decision values agree with the batched scoring
    diffs = np.abs(questioned[:, None] - references[None]).reshape(-1, DIM)
    np.testing.assert_allclose(pair.ravel(),
                               loaded.classifier.reference_decision_function(diffs),
                               atol=1e-6)
    again, _ = fit(dev_features, fusion="mean")
    assert again.threshold == verifier.threshold


class Payload:
    """A type no classifier file may hold."""


def test_classifier_files_with_foreign_types_or_content_are_refused(tmp_path):
    evil = tmp_path / "evil.skops"
    sio.dump({"format": "sigver-wi-verifier", "format_version": 1, "classifier": Payload()},
             evil)
    with pytest.raises(SigverError, match="refused, it contains types.*Payload"):
        load_verifier(evil)
    not_zip = tmp_path / "not.skops"
    not_zip.write_bytes(b"\x80\x04pickle-ish bytes")
    with pytest.raises(SigverError, match="not a sigver classifier file"):
        load_verifier(not_zip)
    other = tmp_path / "other.skops"
    sio.dump({"format": "something else"}, other)
    with pytest.raises(SigverError, match="not a sigver classifier file"):
        load_verifier(other)
    with pytest.raises(SigverError, match="classifier file not found"):
        load_verifier(tmp_path / "missing.skops")


def test_wi_fit_command(dev_features, tmp_path, capsys):
    features = tmp_path / "dev.npz"
    save_features(features, dev_features)
    out = tmp_path / "wi.skops"
    status = sigver_main(["wi", "fit", "--features-path", str(features), "--out", str(out),
                          "--gen-for-train", "6", "--gen-for-ref", "4", "--svm-gamma",
                          str(1 / DIM), "--dev-users", "0", "12", "--target-far", "0.1",
                          "--calibration-folds", "2"])
    assert status == 0
    text = capsys.readouterr().out
    assert "12 development users" in text and f"wrote {out}" in text
    assert "FAR <= 10%" in text
    verifier = load_verifier(out)
    assert verifier.operating_point["far_skilled"] <= 0.1
    assert verifier.training["development_users"] == 12
    json.dumps(verifier.training)  # plain values only


def test_wi_fit_bad_input_is_one_line(dev_features, tmp_path, capsys):
    features = tmp_path / "dev.npz"
    save_features(features, dev_features)
    status = sigver_main(["wi", "fit", "--features-path", str(features), "--out",
                          str(tmp_path / "wi.skops"), "--gen-for-train", "6",
                          "--gen-for-ref", "10"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--gen-for-ref 10" in err and "has only 10 genuine" in err
    assert not (tmp_path / "wi.skops").exists()
    status = sigver_main(["wi", "fit", "--features-path", str(features), "--out",
                          str(tmp_path / "wi.skops"), "--gen-for-train", "6",
                          "--calibration-folds", "1"])
    assert status == 2 and "--calibration-folds 1: at least 2" in capsys.readouterr().err
