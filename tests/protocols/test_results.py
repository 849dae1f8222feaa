"""Results files, tables and plots, and the wd / wi commands end to end on features."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from sigver.cli import main as sigver_main
from sigver.features import FeatureSet, save_features
from sigver.protocols.results import (
    format_console,
    load_results_json,
    markdown_table,
    save_results,
    summarize,
)
from sigver.synthetic.features import make_features

METRIC_KEYS = {"FRR", "FAR_random", "FAR_skilled", "mean_AUC", "EER", "EER_userthresholds",
               "auc_list", "global_threshold"}
PREDICTION_KEYS = {"genuinePreds", "randomPreds", "skilledPreds"}


@pytest.fixture(scope="module")
def feature_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("features") / "features.npz"
    save_features(path, make_features(30, 22, 10, dim=16, seed=4))
    return path


def _common(feature_file, tmp_path, name):
    return ["--features-path", str(feature_file), "--exp-users", "0", "12",
            "--dev-users", "12", "30", "--folds", "2", "--svm-gamma", "0.0625",
            "--save-path", str(tmp_path / f"{name}.pickle"), "--quiet"]


def _assert_pickle_and_json_agree(pickle_path, n_users=12):
    with open(pickle_path, "rb") as handle:
        folds = pickle.load(handle)
    from_json = load_results_json(pickle_path.with_suffix(".json"))
    assert len(folds) == len(from_json) == 2
    for fold, again in zip(folds, from_json, strict=True):
        assert set(fold["all_metrics"]) >= METRIC_KEYS
        assert set(fold["predictions"]) == PREDICTION_KEYS
        for key in METRIC_KEYS - {"auc_list"}:
            assert again["all_metrics"][key] == pytest.approx(fold["all_metrics"][key], abs=0)
        np.testing.assert_array_equal(again["all_metrics"]["auc_list"],
                                      fold["all_metrics"]["auc_list"])
        for key in PREDICTION_KEYS:
            assert len(fold["predictions"][key]) == n_users
            for a, b in zip(fold["predictions"][key], again["predictions"][key], strict=True):
                np.testing.assert_array_equal(a, b)
    return folds


def test_wd_module_command_writes_every_result(feature_file, tmp_path):
    plots = tmp_path / "plots"
    done = subprocess.run(
        [sys.executable, "-m", "sigver.wd.test", *_common(feature_file, tmp_path, "wd"),
         "--forg-from-dev", "5", "--plots", str(plots)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    folds = _assert_pickle_and_json_agree(tmp_path / "wd.pickle")
    eer = 100 * np.mean([f["all_metrics"]["EER"] for f in folds])
    assert f"{eer:.2f} (+-" in done.stdout
    assert f"{eer:.2f} (±" in (tmp_path / "wd.md").read_text()
    for name in ("roc.png", "det.png", "scores_WD.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("action", [[], ["test"]])
def test_sigver_wi_runs_the_published_command(feature_file, tmp_path, action, capsys):
    status = sigver_main(["wi", *action, *_common(feature_file, tmp_path, "wi"),
                          "--gen-for-train", "8", "--gen-for-ref", "10", "--fusion", "mean"])
    assert status == 0
    _assert_pickle_and_json_agree(tmp_path / "wi.pickle")
    assert "EER (user thresholds) (%)" in capsys.readouterr().out


def _error(argv, capsys):
    status = sigver_main(argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def store_and_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from sigver.datasets.util import save_dataset
    from sigver.featurelearning.models import SigNet_thin, save_model_file

    folder = tmp_path_factory.mktemp("end_to_end")
    rng = np.random.RandomState(0)
    n_users, per_user = 10, 9  # 6 genuine + 3 skilled each
    y = np.repeat(np.arange(n_users), per_user)
    yforg = np.tile(np.r_[np.zeros(6, int), np.ones(3, int)], n_users)
    # each writer's strokes: a user-specific ink pattern, randomly thinned per sample
    base = rng.rand(n_users, 1, 170, 242) < 0.08
    x = (base[y] & (rng.rand(len(y), 1, 170, 242) < 0.8)).astype(np.uint8) * 255
    save_dataset(folder / "store.npz", x, y, yforg, list(range(n_users)),
                 [f"u{u}_{i}" for u, i in zip(y, range(len(y)), strict=True)])
    torch.manual_seed(0)
    save_model_file(folder / "model.pth", SigNet_thin().eval())
    return folder


@pytest.mark.parametrize(("module", "extra"), [
    ("sigver.wd.test", ["--forg-from-dev", "3", "--forg-from-exp", "0"]),
    ("sigver.wi.test", ["--gen-for-ref", "3", "--fusion", "max"]),
])
def test_store_model_to_results_with_published_flags(store_and_model, module, extra):
    folder = store_and_model
    save = folder / f"{module}.pickle"
    done = subprocess.run(
        [sys.executable, "-m", module, "--model-path", str(folder / "model.pth"),
         "--data-path", str(folder / "store.npz"), "--save-path", str(save),
         "--input-size", "150", "220", "--exp-users", "0", "5", "--dev-users", "5", "10",
         "--gen-for-train", "3", "--gen-for-test", "3", "--svm-type", "rbf", "--svm-c", "1",
         "--svm-gamma", str(2 ** -11), "--thr", "0", "--gpu-idx", "0", "--batch-size", "16",
         "--folds", "2", *extra],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    _assert_pickle_and_json_agree(save, n_users=5)


def test_bad_input_gives_one_line_errors(feature_file, tmp_path, capsys):
    model = tmp_path / "model.pth"
    model.write_bytes(b"not the model of these features")
    base = ["wd", "--features-path", str(feature_file), "--quiet"]
    assert f"--model-path {model}: its SHA-256 is" in _error(
        [*base, "--model-path", str(model), "--exp-users", "0", "12", "--dev-users", "12",
         "30"], capsys)
    assert "--exp-users 100 200: selects no user" in _error(
        [*base, "--exp-users", "100", "200", "--dev-users", "12", "30"], capsys)
    assert "--dev-users 12 30: overlaps the exploitation users 0 20" in _error(
        [*base, "--exp-users", "0", "20", "--dev-users", "12", "30"], capsys)
    assert "--save-path" in _error([*base, "--exp-users", "0", "12", "--dev-users", "12",
                                    "30", "--save-path", str(tmp_path / "no" / "r.pkl")],
                                   capsys)
    assert not list(tmp_path.glob("*.pickle"))


def test_users_without_skilled_forgeries_are_noted_not_fatal(tmp_path, capsys):
    fs = make_features(30, 22, 10, dim=16, seed=4)
    keep = ~((fs.y >= 9) & (fs.y < 12) & (fs.yforg == 1))
    path = tmp_path / "brazilian.npz"
    save_features(path, FeatureSet(fs.features[keep], fs.y[keep], fs.yforg[keep],
                                   fs.filenames[keep], "synthetic"))
    status = sigver_main(["wd", "--features-path", str(path), "--exp-users", "0", "12",
                          "--dev-users", "12", "30", "--folds", "1", "--quiet",
                          "--svm-gamma", "0.0625", "--save-path", str(tmp_path / "r.pkl")])
    assert status == 0
    assert "3 user(s) have no skilled forgeries" in capsys.readouterr().out
    [fold] = json.loads((tmp_path / "r.json").read_text())
    assert fold["all_metrics"]["auc_list"][9:] == [None, None, None]
    assert fold["all_metrics"]["skipped_users"] == 3


def _fold(eer, scale):
    rng = np.random.default_rng(int(100 * eer))
    preds = {key: [rng.normal(mu, 1, 5) for _ in range(3)]
             for key, mu in (("genuinePreds", scale), ("randomPreds", -scale),
                             ("skilledPreds", 0))}
    metrics = dict.fromkeys(METRIC_KEYS - {"auc_list"}, 0.5)
    metrics.update(EER=eer, auc_list=np.array([0.9, np.nan, 0.8]))
    return {"all_metrics": metrics, "predictions": preds}


def test_tables_show_mean_and_std_and_files_round_trip(tmp_path):
    folds = [_fold(0.10, 1.0), _fold(0.20, 2.0)]
    assert summarize(folds)["EER"] == pytest.approx((0.15, 0.05))
    assert "15.00 (+- 5.00)" in format_console(folds)
    table = markdown_table({"run A": folds, "run B": folds[:1]})
    assert "| run A | 2 | 15.00 (± 5.00) |" in table and "| run B | 1 | 10.00 (± 0.00) |" in table
    pickle_path, json_path = save_results(tmp_path / "res.pkl", folds)
    assert json.loads(json_path.read_text())[0]["all_metrics"]["auc_list"] == [0.9, None, 0.8]
    assert np.isnan(load_results_json(json_path)[1]["all_metrics"]["auc_list"][1])
    with pytest.raises(ValueError, match="own name"):
        save_results(tmp_path / "res.json", folds)
