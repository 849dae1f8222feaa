"""Enroll a synthetic writer and verify held-out genuine signatures and skilled forgeries:
synthetic scans -> SigNet_thin model file -> ``sigver wi fit`` on development writers ->
``sigver enroll`` -> ``sigver verify`` (command line and Python API)."""

import json
import shutil

import numpy as np
import pytest
import torch
from skimage import io as skio

import sigver
from sigver.cli import main as sigver_main
from sigver.featurelearning.models import SigNet_thin, save_model_file
from sigver.settings import PreprocessingSettings, write_model_settings
from sigver.synthetic.generate import CANVAS, generate_images, generate_store
from sigver.verification.database import EnrollmentDatabase
from sigver.verification.persistence import load_verifier, save_verifier

N_REF = 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A model, a fitted classifier and one exploitation writer's scans."""
    root = tmp_path_factory.mktemp("verify")
    torch.manual_seed(0)
    model = root / "signet_thin.pth"
    save_model_file(model, SigNet_thin())
    # As training does: the model folder records the canvas of its training data, and
    # enrollment takes it from there.
    write_model_settings(model, PreprocessingSettings(canvas_size=CANVAS))
    # development writers (seed 11) and the person to verify (seed 12) are different people
    generate_store(root / "dev.npz", writers=10, genuine=6, skilled=3, seed=11,
                   progress=False)
    classifier = root / "wi.skops"
    assert sigver_main(["wi", "fit", "--model-path", str(model), "--data-path",
                        str(root / "dev.npz"), "--out", str(classifier), "--gen-for-train",
                        "5", "--gen-for-ref", str(N_REF - 1), "--calibration-folds",
                        "2"]) == 0
    generate_images(root / "scans", writers=1, genuine=N_REF + 4, skilled=4, seed=12,
                    progress=False)
    genuine = sorted(str(p) for p in (root / "scans" / "001").glob("c-*.png"))
    skilled = sorted(str(p) for p in (root / "scans" / "001").glob("cf-*.png"))
    db = root / "sigver.db"
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(model), "--user",
                        "writer-1", *genuine[:N_REF]]) == 0
    return {"root": root, "model": model, "classifier": classifier, "db": db,
            "references": genuine[:N_REF], "genuine": genuine[N_REF:], "skilled": skilled}


def verify_json(world, files, capsys, user="writer-1"):
    capsys.readouterr()
    assert sigver_main(["verify", "--db", str(world["db"]), "--classifier",
                        str(world["classifier"]), "--user", user, "--json", *files]) == 0
    return json.loads(capsys.readouterr().out)


def test_genuine_scores_above_skilled_and_decisions_follow_the_threshold(world, capsys):
    report = verify_json(world, world["genuine"] + world["skilled"], capsys)
    threshold = load_verifier(world["classifier"]).threshold
    results = report["results"]
    assert [r["file"] for r in results] == world["genuine"] + world["skilled"]
    scores = np.array([r["score"] for r in results])
    genuine, skilled = scores[:len(world["genuine"])], scores[len(world["genuine"]):]
    assert genuine.mean() > skilled.mean()
    for result in results:
        assert result["threshold"] == threshold
        assert result["decision"] == ("genuine" if result["score"] >= threshold else "forgery")
        # one score per enrolled reference, fused by the classifier's rule (max)
        per_reference = [r["score"] for r in result["reference_scores"]]
        assert [r["reference"] for r in result["reference_scores"]] == world["references"]
        assert result["score"] == pytest.approx(max(per_reference), abs=1e-12)
        assert result["is_reference"] is False
    assert report["fusion"] == "max" and report["user"] == "writer-1"


def test_python_api_gives_the_command_line_scores(world, capsys):
    report = verify_json(world, world["skilled"][:2], capsys)
    with sigver.Verifier(world["db"], world["classifier"], device="cpu") as verifier:
        results = verifier.verify(world["skilled"][:2], "writer-1")
        again = verifier.verify(world["references"][0], "writer-1")
    assert [r.score for r in results] == pytest.approx(
        [r["score"] for r in report["results"]], abs=1e-9)
    assert [r.as_dict()["decision"] for r in results] == [
        r["decision"] for r in report["results"]]
    # a reference verified against itself is flagged: its score says nothing
    assert again[0].is_reference
    one = sigver.verify(world["genuine"][0], user="writer-1", db=world["db"],
                        classifier=world["classifier"])
    assert len(one) == 1 and len(one[0].reference_scores) == N_REF


def test_text_output_and_idempotent_enrollment(world, capsys):
    capsys.readouterr()
    assert sigver_main(["verify", "--db", str(world["db"]), "--classifier",
                        str(world["classifier"]), "--user", "writer-1",
                        world["genuine"][0]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"{world['genuine'][0]}: ")
    assert ("GENUINE (score" in lines[1]) or ("FORGERY (score" in lines[1])
    assert len(lines) == 2 + N_REF and lines[2].strip().endswith(world["references"][0])
    assert sigver_main(["enroll", "--db", str(world["db"]), "--user", "writer-1",
                        *world["references"][:2]]) == 0
    out = capsys.readouterr().out
    assert out.count("already enrolled for writer-1, skipped") == 2
    assert f"enrolled 0 new reference(s) for writer-1 in {world['db']} ({N_REF} in total)" in out
    assert sigver_main(["enroll", "--db", str(world["db"]), "--list"]) == 0
    listing = capsys.readouterr().out
    assert f"writer-1\t{N_REF} reference(s)" in listing and "canvas 840 x 1200" in listing


def run_error(argv, capsys) -> str:
    capsys.readouterr()
    assert sigver_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sigver: error: ")
    return err


def test_bad_input_gets_one_line_errors(world, capsys, tmp_path):
    db, classifier = str(world["db"]), str(world["classifier"])
    verify = ["verify", "--db", db, "--classifier", classifier]
    assert "--user nobody: unknown user" in run_error(
        [*verify, "--user", "nobody", world["genuine"][0]], capsys)
    blank = tmp_path / "blank.png"
    skio.imsave(blank, np.full((300, 600), 250, dtype=np.uint8), check_contrast=False)
    assert f"{blank}: " in run_error([*verify, "--user", "writer-1", str(blank)], capsys)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    assert f"{broken}: " in run_error([*verify, "--user", "writer-1", str(broken)], capsys)
    assert "no such enrollment database" in run_error(
        ["verify", "--db", str(tmp_path / "none.db"), "--classifier", classifier, "--user",
         "writer-1", world["genuine"][0]], capsys)
    # ink wider than the database's 840 x 1200 canvas: refused unless --crop-oversize
    wide = np.full((400, 1500), 235, dtype=np.uint8)
    wide[190:210, 20:1480] = 30
    skio.imsave(tmp_path / "wide.png", wide, check_contrast=False)
    assert "larger than the canvas 840 x 1200" in run_error(
        [*verify, "--user", "writer-1", str(tmp_path / "wide.png")], capsys)
    # ... whose remedy names the flag; with it the crop is one warning line.
    assert "--crop-oversize keeps its middle" in run_error(
        [*verify, "--user", "writer-1", str(tmp_path / "wide.png")], capsys)
    assert sigver_main([*verify, "--user", "writer-1", "--crop-oversize",
                        str(tmp_path / "wide.png")]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"sigver: warning: {tmp_path / 'wide.png'}: ") and \
        err.count("\n") == 1
    with EnrollmentDatabase(tmp_path / "empty.db", create=True):
        pass
    assert "nobody is enrolled yet" in run_error(
        ["verify", "--db", str(tmp_path / "empty.db"), "--classifier", classifier, "--user",
         "writer-1", world["genuine"][0]], capsys)
    assert "no reference files given" in run_error(["enroll", "--db", db, "--user", "x"],
                                                   capsys)
    # a failed first enrollment leaves no database behind
    assert f"{blank}: " in run_error(
        ["enroll", "--db", str(tmp_path / "new.db"), "--model-path", str(world["model"]),
         "--user", "x", str(blank)], capsys)
    assert not (tmp_path / "new.db").exists()
    # a classifier trained on another model's features
    other = load_verifier(classifier)
    other.model_sha256 = "0" * 64
    save_verifier(tmp_path / "other.skops", other)
    assert "trained on features of another model" in run_error(
        ["verify", "--db", db, "--classifier", str(tmp_path / "other.skops"), "--user",
         "writer-1", world["genuine"][0]], capsys)
    # a model file that is not the database's
    torch.manual_seed(1)
    save_model_file(tmp_path / "other.pth", SigNet_thin())
    assert "not the model this database was enrolled with" in run_error(
        [*verify, "--user", "writer-1", "--model-path", str(tmp_path / "other.pth"),
         world["genuine"][0]], capsys)
    assert "not the model this database was enrolled with" in run_error(
        ["enroll", "--db", db, "--user", "writer-2", "--model-path",
         str(tmp_path / "other.pth"), world["genuine"][0]], capsys)
    # one bad file among good ones: nothing of the batch is stored
    assert f"{blank}: " in run_error(["enroll", "--db", db, "--user", "writer-2",
                                      world["genuine"][0], str(blank)], capsys)
    with EnrollmentDatabase(db) as store:
        assert store.users() == [("writer-1", N_REF)]


def test_a_copied_database_still_finds_its_model_by_hash(world, tmp_path, capsys):
    """The database records where its model was; a moved model is named with
    --model-path and accepted because its content (SHA-256) is the same."""
    moved = tmp_path / "moved.pth"
    shutil.copy(world["model"], moved)
    capsys.readouterr()
    assert sigver_main(["verify", "--db", str(world["db"]), "--classifier",
                        str(world["classifier"]), "--user", "writer-1", "--model-path",
                        str(moved), "--json", world["genuine"][0]]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["file"] == world["genuine"][0]
