"""``sigver.wd.run`` / ``sigver.wi.run``: the protocols from Python give what the commands
give for the same seed, typed results, and errors that name Python parameters (the
commands name flags)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from sigver.cli import main as sigver_main
from sigver.errors import ParameterError
from sigver.features import FeatureSet, feature_set_from, save_features
from sigver.performance.metrics import compute_metrics
from sigver.protocols.result import FoldMetrics, Predictions, ProtocolResult
from sigver.protocols.results import load_results_json, summarize
from sigver.synthetic.features import make_features
from sigver.wd import run as run_wd
from sigver.wi import run as run_wi

USERS = {"exp_users": (0, 12), "dev_users": (12, 30)}
FLAGS = ["--exp-users", "0", "12", "--dev-users", "12", "30"]


@pytest.fixture(scope="module")
def features() -> FeatureSet:
    return make_features(30, 22, 10, dim=16, seed=4)


@pytest.fixture(scope="module")
def feature_file(features, tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "features.npz"
    save_features(path, features)
    return path


def assert_identical(expected, actual, where="result"):
    """Same structure, same types, same values (NaN equal to NaN)."""
    assert type(actual) is type(expected), where
    if isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            assert_identical(expected[key], actual[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
            assert_identical(a, b, f"{where}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype, where
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    else:
        assert actual == expected or (actual != actual and expected != expected), where


# run() reproduces the published procedure by default; 'sigver wd' needs --exact for it
CASES = {
    "wd": (run_wd, {"num_forg_from_dev": 5, "num_forg_from_exp": 2, "seed": 7},
           ["--forg-from-dev", "5", "--forg-from-exp", "2", "--seed", "7", "--exact"]),
    "wd-fast": (run_wd, {"num_forg_from_dev": 5, "seed": 7, "method": "fast"},
                ["--forg-from-dev", "5", "--seed", "7"]),
    "wi": (run_wi, {"num_gen_train": 8, "num_gen_ref": 10, "fusion": "mean"},
           ["--gen-for-train", "8", "--gen-for-ref", "10", "--fusion", "mean"]),
}


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_python_run_gives_what_the_command_saves(protocol, features, feature_file, tmp_path,
                                                 capsys):
    run, kwargs, flags = CASES[protocol]
    result = run(features, **USERS, gamma=0.0625, folds=2, **kwargs)
    save = tmp_path / f"{protocol}.pickle"
    assert sigver_main([protocol.split("-")[0], "--features-path", str(feature_file), *FLAGS,
                        "--svm-gamma", "0.0625", "--folds", "2", "--save-path", str(save),
                        "--quiet", *flags]) == 0
    console = capsys.readouterr().out
    with open(save, "rb") as handle:
        assert_identical(pickle.load(handle), result.to_published())
    from_json = json.loads(save.with_suffix(".json").read_text())
    assert from_json == json.loads(json.dumps(
        _as_json(result.to_published())))
    for index, fold in enumerate(result.folds):
        assert (f"fold {index + 1}/2: EER {100 * fold.metrics.eer:.2f}%, EER (user "
                f"thresholds) {100 * fold.metrics.eer_user_thresholds:.2f}%") in console


def _as_json(folds):
    """The published folds as JSON values (NaN -> null), as the JSON file holds them."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, np.ndarray)):
            return [plain(v) for v in value]
        if isinstance(value, float) and np.isnan(value):
            return None
        return value.item() if isinstance(value, np.generic) else value
    return plain(folds)


def test_arrays_and_feature_set_give_the_same_run(features):
    kwargs = {**USERS, "gamma": 0.0625, "folds": 2, "num_forg_from_dev": 5}
    from_set = run_wd(features, **kwargs)
    from_arrays = run_wd(features.features, features.y, features.yforg, **kwargs)
    assert_identical(from_set.to_published(), from_arrays.to_published())
    other_seed = run_wd(features, **kwargs, seed=99)
    assert other_seed.to_published()[0]["all_metrics"] != from_set.to_published()[0][
        "all_metrics"]


def test_result_is_typed_and_publishes_the_published_structure(features, tmp_path):
    seen = []
    result = run_wi(features, **USERS, gamma=0.0625, folds=3, num_gen_train=8,
                    num_gen_ref=10, num_gen_test=6, keep_classifiers=True,
                    on_fold=lambda index, fold: seen.append((index, fold)))
    assert isinstance(result, ProtocolResult) and result.protocol == "WI"
    assert [index for index, _ in seen] == [0, 1, 2]
    assert [fold for _, fold in seen] == list(result.folds)
    assert result.params["num_gen_ref"] == 10 and result.params["seed"] == 1234
    published = result.to_published()
    assert isinstance(published, list) and len(published) == 3
    for fold, entry in zip(result.folds, published, strict=True):
        assert list(entry) == ["all_metrics", "predictions"]
        assert list(entry["all_metrics"]) == [
            "FRR", "FAR_random", "FAR_skilled", "mean_AUC", "EER", "EER_userthresholds",
            "auc_list", "global_threshold", "skipped_users"]
        assert list(entry["predictions"]) == ["genuinePreds", "randomPreds", "skilledPreds"]
        np.testing.assert_array_equal(fold.users, np.arange(12))
        for scores in entry["predictions"].values():
            assert len(scores) == 12 and all(len(s) == 6 for s in scores)
        # the metrics are those of the scores, and survive the typed round trip
        again = compute_metrics(*entry["predictions"].values(), 0.0)
        assert_identical(again, entry["all_metrics"])
        assert FoldMetrics.from_published(entry["all_metrics"]) == fold.metrics
        assert_identical(Predictions.from_published(entry["predictions"]).to_published(),
                         entry["predictions"])
        assert fold.metrics.eer == entry["all_metrics"]["EER"]
        assert fold.classifiers.fusion == "max"
    assert result.summary() == summarize(published)
    assert result.summary()["EER"][0] == pytest.approx(
        np.mean([f.metrics.eer for f in result.folds]))
    pickle_path, json_path = result.save(tmp_path / "wi.pickle")
    with open(pickle_path, "rb") as handle:
        assert_identical(pickle.load(handle), published)
    assert load_results_json(json_path)[2]["all_metrics"]["EER"] == published[2][
        "all_metrics"]["EER"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wi.json", "wi.pickle"]
    report = result.report()
    assert report.startswith("fold 1/3: EER ") and "3 fold(s):" in report


def test_classifiers_are_only_kept_on_request(features):
    result = run_wd(features, **USERS, gamma=0.0625, folds=1, num_forg_from_dev=5)
    assert result.folds[0].classifiers is None
    kept = run_wd(features, **USERS, gamma=0.0625, folds=1, num_forg_from_dev=5,
                  keep_classifiers=True)
    assert sorted(kept.folds[0].classifiers) == list(range(12))


# (Python keyword arguments, the same mistake as flags, message from Python, from the shell)
MISTAKES = [
    ({"folds": 0}, ["--folds", "0"], "folds=0: at least 1 fold", "--folds 0: at least 1 fold"),
    ({"exp_users": (0, 20)}, ["--exp-users", "0", "20"],
     "dev_users=(12, 30): overlaps the exploitation users 0 20",
     "--dev-users 12 30: overlaps the exploitation users 0 20"),
    ({"exp_users": (100, 200)}, ["--exp-users", "100", "200"],
     "exp_users=(100, 200): selects no user (users in the data: 0..29)",
     "--exp-users 100 200: selects no user (users in the data: 0..29)"),
    ({"num_gen_test": 11}, ["--gen-for-test", "11"],
     "num_gen_train=12: with 11 test genuines, 23 genuine signatures are needed per user, "
     "but user 0 has only 22",
     "--gen-for-train 12: with 11 test genuines, 23 genuine signatures are needed per "
     "user, but user 0 has only 22"),
    ({"num_forg_from_dev": 0}, ["--forg-from-dev", "0"], "num_forg_from_dev=0: no negatives",
     "--forg-from-dev 0: no negatives"),
    ({"num_forg_from_exp": 13}, ["--forg-from-exp", "13"],
     "num_forg_from_exp=13: exceeds the 12 training genuines",
     "--forg-from-exp 13: exceeds the 12 training genuines"),
    ({"num_forg_from_dev": 23}, ["--forg-from-dev", "23"],
     "num_forg_from_dev=23: 23 genuine signatures needed per development user, but user 12 "
     "has only 22",
     "--forg-from-dev 23: 23 genuine signatures needed per development user, but user 12 "
     "has only 22"),
]


@pytest.mark.parametrize(("kwargs", "flags", "python", "shell"), MISTAKES)
def test_wd_errors_name_parameters_in_python_and_flags_in_the_shell(
        features, feature_file, capsys, kwargs, flags, python, shell):
    with pytest.raises(ParameterError) as info:
        run_wd(features, **{**USERS, "num_forg_from_dev": 5, **kwargs})
    assert str(info.value).startswith(python)
    argv = ["wd", "--features-path", str(feature_file), *FLAGS, "--forg-from-dev", "5",
            "--quiet", *flags]
    assert sigver_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sigver: error: {shell}") and err.count("\n") == 1, err


def test_wi_errors_name_parameters_in_python_and_flags_in_the_shell(features, feature_file,
                                                                     capsys):
    with pytest.raises(ParameterError, match="^num_gen_ref=15: with 10 test genuines, 25"):
        run_wi(features, **USERS, num_gen_ref=15, num_gen_test=10)
    assert sigver_main(["wi", "--features-path", str(feature_file), *FLAGS, "--gen-for-ref",
                        "15"]) == 2
    assert "error: --gen-for-ref 15: with 10 test genuines, 25" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="^num_gen_train=23: 23 genuine signatures "
                                             "needed per development user, but user 12"):
        run_wi(features, **USERS, num_gen_train=23)
    assert sigver_main(["wi", "--features-path", str(feature_file), *FLAGS,
                        "--gen-for-train", "23"]) == 2
    assert "error: --gen-for-train 23: 23 genuine" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="^fusion='sum': choose one of"):
        run_wi(features, **USERS, fusion="sum")


def test_bad_feature_inputs_name_the_parameter(features):
    with pytest.raises(ParameterError, match="^y=None: needed with a plain feature array"):
        run_wd(features.features)
    with pytest.raises(ParameterError, match="^y='given': a FeatureSet carries its own"):
        run_wi(features, features.y, features.yforg)
    with pytest.raises(ParameterError, match=r"^yforg='shape \(3,\)'"):
        run_wd(features.features, features.y, features.yforg[:3])


def test_feature_set_from_files(features, feature_file, tmp_path):
    loaded = feature_set_from(features_path=feature_file)
    np.testing.assert_array_equal(loaded.features, features.features.astype(np.float32))
    other_model = tmp_path / "model.pth"
    other_model.write_bytes(b"another model")
    with pytest.raises(ParameterError, match=f"^model_path='{other_model}': its SHA-256"):
        feature_set_from(features_path=feature_file, model_path=other_model)
    with pytest.raises(ParameterError, match="^features_path=None: give a feature file"):
        feature_set_from(model_path=other_model)
