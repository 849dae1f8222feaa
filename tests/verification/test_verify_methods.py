"""``sigver verify --method / --threshold / --summary / --fail-on-forgery`` and
``sigver enroll --background``: writer-dependent SVMs stored per person, chosen by
``auto`` only while they match the person's references."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import numpy as np
import pytest

import sigver
from sigver.cli import main as sigver_main
from sigver.errors import ParameterError, SigverError
from sigver.settings import PreprocessingSettings
from sigver.verification.api import Verifier, prepare_images
from sigver.verification.background import load_background, save_background
from sigver.verification.database import EnrollmentDatabase
from sigver.verification.wd import WD_THRESHOLD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scans(cli_world):
    writer = cli_world["writers"]["002"]
    return {"genuine": [str(p) for p in writer["genuine"]],
            "skilled": [str(p) for p in writer["skilled"]]}


def enroll(world, db, files, *extra) -> int:
    return sigver_main(["enroll", "--db", str(db), "--model-path", str(world["model"]),
                        "--canvas-size", *map(str, world["canvas"]), "--user", "w2",
                        *extra, *files])


def verify(world, db, files, *extra) -> int:
    return sigver_main(["verify", "--db", str(db), "--classifier", str(world["classifier"]),
                        "--user", "w2", *extra, *files])


def verify_json(world, db, files, capsys, *extra) -> dict:
    capsys.readouterr()
    assert verify(world, db, files, "--json", *extra) == 0
    return json.loads(capsys.readouterr().out)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("sigver: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def wd_db(cli_world, scans, tmp_path_factory):
    """w2 enrolled with 5 references and --background: their SVM is stored."""
    db = tmp_path_factory.mktemp("wd") / "wd.db"
    assert enroll(cli_world, db, scans["genuine"][:5], "--background",
                  str(cli_world["background"])) == 0
    return db


def test_enroll_with_a_background_trains_from_five_references(cli_world, scans, tmp_path,
                                                              capsys):
    db, background = tmp_path / "db", str(cli_world["background"])
    capsys.readouterr()
    assert enroll(cli_world, db, scans["genuine"][:4], "--background", background) == 0
    assert ("w2 has 4 reference(s); a writer-dependent SVM needs at least 5, so "
            "verification uses the writer-independent classifier") in capsys.readouterr().out
    questioned = scans["skilled"][:1]
    assert verify_json(cli_world, db, questioned, capsys)["method"] == "wi"
    assert verify(cli_world, db, questioned, "--method", "wd") == 2
    assert "user 'w2' has no writer-dependent SVM (it needs at least 5 references" in \
        one_line_error(capsys)
    assert enroll(cli_world, db, scans["genuine"][4:5], "--background", background) == 0
    assert ("trained the writer-dependent SVM of w2 on their 5 references against "
            f"{background}") in capsys.readouterr().out
    report = verify_json(cli_world, db, questioned, capsys)
    assert report["method"] == "wd" and report["results"][0]["threshold"] == WD_THRESHOLD
    # a reference enrolled without the background makes the stored SVM stale: WI again
    assert enroll(cli_world, db, scans["genuine"][5:6]) == 0
    assert verify_json(cli_world, db, questioned, capsys)["method"] == "wi"
    assert verify(cli_world, db, questioned, "--method", "wd") == 2
    assert "has no writer-dependent SVM" in one_line_error(capsys)


def test_wd_scores_are_the_persons_svm_and_wi_scores_the_classifiers(cli_world, scans,
                                                                    wd_db, capsys):
    questioned = scans["genuine"][6:8] + scans["skilled"][:2]
    by_wd = verify_json(cli_world, wd_db, questioned, capsys)
    by_wi = verify_json(cli_world, wd_db, questioned, capsys, "--method", "wi")
    assert by_wd["method"] == "wd" and by_wi["method"] == "wi"
    with Verifier(wd_db, cli_world["classifier"], device="cpu") as verifier:
        references = verifier.database.references("w2")
        svm = verifier.person_svm("w2", references.file_sha256)
        images = prepare_images(questioned, verifier.preprocessing.canvas_size,
                                verifier.preprocessing.img_size)
        features = verifier.model.features(images, verifier.preprocessing.input_size)
        fused, _ = verifier.classifier.score(features, references.features)
        threshold = verifier.classifier.threshold
    assert svm is not None and svm.n_references == 5
    assert [r["score"] for r in by_wd["results"]] == pytest.approx(
        svm.decision_function(features).tolist(), abs=1e-6)
    assert [r["score"] for r in by_wi["results"]] == pytest.approx(fused.tolist(), abs=1e-6)
    for wd_result, wi_result in zip(by_wd["results"], by_wi["results"], strict=True):
        assert wd_result["method"] == "wd" and wi_result["method"] == "wi"
        assert wd_result["threshold"] == WD_THRESHOLD and wi_result["threshold"] == threshold
        assert wd_result["decision"] == ("genuine" if wd_result["score"] >= 0 else "forgery")
        # the classifier's score against each reference is shown whatever the method
        assert wd_result["reference_scores"] == wi_result["reference_scores"]


def test_threshold_summary_and_fail_on_forgery(cli_world, scans, wd_db, capsys):
    questioned = scans["genuine"][6:8] + scans["skilled"][:2]
    scores = [r["score"] for r in verify_json(cli_world, wd_db, questioned, capsys)["results"]]
    cut = float(np.median(scores))
    report = verify_json(cli_world, wd_db, questioned, capsys, "--threshold", str(cut))
    assert [r["threshold"] for r in report["results"]] == [cut] * 4
    assert [r["decision"] for r in report["results"]] == [
        "genuine" if s >= cut else "forgery" for s in scores]
    capsys.readouterr()
    assert verify(cli_world, wd_db, questioned, "--summary", "--threshold", str(cut)) == 0
    lines = capsys.readouterr().out.splitlines()
    genuine = sum(s >= cut for s in scores)
    assert len(lines) == 5 and lines[-1] == (f"4 file(s): {genuine} genuine, {4 - genuine} "
                                             "forgery")
    for line, score, path in zip(lines[:-1], scores, questioned, strict=True):
        assert line.startswith("GENUINE" if score >= cut else "FORGERY")
        assert line.endswith(path) and f"(threshold {cut:.4f})" in line
    # --fail-on-forgery: status 1 as soon as one file is judged a forgery, else 0
    assert verify(cli_world, wd_db, questioned, "--fail-on-forgery", "--summary",
                  "--threshold", str(cut)) == 1
    assert verify(cli_world, wd_db, questioned, "--fail-on-forgery", "--summary",
                  "--threshold", str(min(scores) - 1)) == 0
    assert verify(cli_world, wd_db, questioned, "--summary", "--threshold",
                  str(max(scores) + 1)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 file(s): 0 genuine, 4 forgery"


def test_bad_options_are_refused(cli_world, scans, wd_db, capsys):
    questioned = scans["skilled"][:1]
    for argv, message in ((["--threshold", "high"], "argument --threshold: invalid float "
                                                    "value: 'high'"),
                          (["--method", "svm"], "argument --method: invalid choice: 'svm'"),
                          (["--json", "--summary"], "--json and --summary are two output "
                                                    "formats")):
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            verify(cli_world, wd_db, questioned, *argv)
        assert info.value.code == 2 and message in capsys.readouterr().err
    assert verify(cli_world, wd_db, questioned, "--threshold", "nan") == 2
    assert "--threshold nan: must be a finite number" in one_line_error(capsys)


def test_backgrounds_of_another_model_or_preprocessing_are_refused(cli_world, scans, wd_db,
                                                                   tmp_path, capsys):
    background = load_background(cli_world["background"])
    other_model = tmp_path / "other_model.npz"
    save_background(other_model, dataclasses.replace(background, model_sha256="0" * 64))
    other_canvas = tmp_path / "other_canvas.npz"
    save_background(other_canvas, dataclasses.replace(
        background, settings=PreprocessingSettings(canvas_size=(952, 1360))))
    capsys.readouterr()
    for path, message in (
            (other_model, f"--background {other_model}: holds features of another model "
                          "(SHA-256 000000000000...)"),
            (other_canvas, f"--background {other_canvas}: its signatures were prepared "
                           "with canvas 952 x 1360, the database's with 840 x 1200"),
            (tmp_path / "none.npz", "none.npz: background file not found")):
        assert enroll(cli_world, wd_db, scans["genuine"][5:6], "--background",
                      str(path)) == 2
        assert message in one_line_error(capsys)
    # nothing was stored, and the SVM is still valid
    with EnrollmentDatabase(wd_db) as database:
        assert database.users() == [("w2", 5)]
    assert verify_json(cli_world, wd_db, scans["skilled"][:1], capsys)["method"] == "wd"


def test_python_api_methods_and_thresholds(cli_world, scans, wd_db, tmp_path):
    db = tmp_path / "copy.db"  # this test enrolls more: a copy of the module's database
    source, target = sqlite3.connect(wd_db), sqlite3.connect(db)
    source.backup(target)
    source.close()
    target.close()
    questioned = scans["skilled"][:2]
    by_wd = sigver.verify(questioned, user="w2", db=db, classifier=cli_world["classifier"],
                          device="cpu", engine="onnx", model_path=cli_world["onnx"],
                          threshold=-0.25)
    by_wi = sigver.verify(questioned, user="w2", db=db, classifier=cli_world["classifier"],
                          device="cpu", method="wi")
    assert [r.method for r in by_wd] == ["wd", "wd"] and by_wi[0].method == "wi"
    assert all(r.threshold == -0.25 and r.is_genuine == (r.score >= -0.25) for r in by_wd)
    assert by_wd[0].as_dict()["method"] == "wd"
    with Verifier(db, cli_world["classifier"], device="cpu") as verifier:
        with pytest.raises(ParameterError, match="method='svm': choose one of auto, wd, wi"):
            verifier.verify(questioned, "w2", method="svm")
        with pytest.raises(ParameterError, match="threshold='x': must be a number"):
            verifier.verify(questioned, "w2", threshold="x")
    result = sigver.enroll(scans["genuine"][5:6], "w2", db=db,
                           background=cli_world["background"], device="cpu")
    assert result.total_references == 6
    with Verifier(db, cli_world["classifier"], device="cpu") as verifier:
        refs = verifier.database.references("w2")
        assert verifier.person_svm("w2", refs.file_sha256).n_references == 6
    other = [str(p) for p in cli_world["writers"]["001"]["genuine"][:2]]
    sigver.enroll(other, "w1", db=db, background=cli_world["background"], device="cpu")
    with pytest.raises(SigverError, match="user 'w1' has no writer-dependent SVM"):
        sigver.verify(questioned, user="w1", db=db, classifier=cli_world["classifier"],
                      method="wd")
