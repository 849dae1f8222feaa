"""The preprocessing settings travel into enrollment: a model trained on another canvas
than GPDS's is enrolled with that canvas (taken from ``preprocessing.json`` beside the
model file), a contradicting canvas is refused, and a model that records nothing falls
back to the GPDS canvas with a one-line warning."""

import warnings

import numpy as np
import pytest
import torch

import sigver
from preprocessing_helpers import write_image
from sigver.cli import main as sigver_main
from sigver.errors import ParameterError, SigverError
from sigver.featurelearning.extract import extract_features
from sigver.featurelearning.models import SigNet_thin, load_model_file, save_model_file
from sigver.imageio import read_signature_image
from sigver.preprocessing.normalize import preprocess_signature
from sigver.settings import DefaultSettingsWarning, PreprocessingSettings, write_model_settings
from sigver.verification.database import EnrollmentDatabase

TRAINED_ON = PreprocessingSettings(canvas_size=(600, 850))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("enroll_settings")
    torch.manual_seed(0)
    # A model trained on a 600 x 850 canvas: training records it beside the model file.
    trained = root / "run" / "model_best.pth"
    trained.parent.mkdir()
    model = SigNet_thin()
    with torch.no_grad():  # non-trivial batch-norm statistics
        model.train()(torch.rand(4, 1, 150, 220))
    save_model_file(trained, model.eval())
    write_model_settings(trained, TRAINED_ON)
    # The same weights published alone: no preprocessing.json beside them.
    published = root / "published" / "signet.pth"
    published.parent.mkdir()
    published.write_bytes(trained.read_bytes())
    scans = [str(write_image(root / "scans" / f"ref{i}.png", seed=i, shape=(300, 500)))
             for i in range(3)]
    return {"root": root, "trained": trained, "published": published, "scans": scans}


def features_on(canvas, model_path, scans):
    """The features the scans get on ``canvas``, computed without the enrollment code."""
    x = np.stack([preprocess_signature(read_signature_image(f), canvas, (170, 242),
                                       input_size=None)[None] for f in scans])
    return extract_features(load_model_file(model_path), x, device="cpu", progress=False)


def stored(db, user="alice"):
    with EnrollmentDatabase(db) as database:
        return database.settings(), database.references(user).features


def test_enroll_uses_the_canvas_the_model_was_trained_on(setup, tmp_path):
    db = tmp_path / "sigver.db"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultSettingsWarning)
        sigver.enroll(setup["scans"], "alice", db=db, model_path=setup["trained"],
                      device="cpu")
    settings, features = stored(db)
    assert settings.preprocessing == TRAINED_ON
    expected = features_on((600, 850), setup["trained"], setup["scans"])
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    # ... which is not what the GPDS canvas gives: the canvas matters for the features.
    gpds = features_on((952, 1360), setup["trained"], setup["scans"])
    assert not np.allclose(features, gpds, rtol=1e-3, atol=1e-3)


def test_the_command_uses_the_recorded_canvas(setup, tmp_path, capsys):
    db = tmp_path / "sigver.db"
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(setup["trained"]),
                        "--user", "alice", "--device", "cpu", *setup["scans"]]) == 0
    assert capsys.readouterr().err == ""
    settings, features = stored(db)
    assert settings.canvas_size == (600, 850)
    np.testing.assert_allclose(features, features_on((600, 850), setup["trained"],
                                                     setup["scans"]), rtol=1e-5, atol=1e-6)
    assert sigver_main(["enroll", "--db", str(db), "--list"]) == 0
    assert "canvas 600 x 850" in capsys.readouterr().out


def test_a_contradicting_canvas_is_refused(setup, tmp_path, capsys):
    db = tmp_path / "sigver.db"
    with pytest.raises(ParameterError, match=r"^canvas_size=\(952, 1360\): contradicts "
                       r"600 850 recorded in the model folder of .*model_best.pth"):
        sigver.enroll(setup["scans"], "alice", db=db, model_path=setup["trained"],
                      canvas_size=(952, 1360), device="cpu")
    assert not db.exists()
    capsys.readouterr()
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(setup["trained"]),
                        "--user", "alice", "--canvas-size", "952", "1360", "--device", "cpu",
                        *setup["scans"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigver: error: --canvas-size 952 1360: contradicts 600 850 "
                          "recorded in the model folder of ")
    assert err.count("\n") == 1 and not db.exists()
    # Giving the recorded canvas is fine; later enrollments are checked against the
    # database's record.
    sigver.enroll(setup["scans"][:1], "alice", db=db, model_path=setup["trained"],
                  canvas_size=(600, 850), device="cpu")
    with pytest.raises(ParameterError, match=r"^canvas_size=\(700, 850\): contradicts 600 "
                       r"850 recorded in the enrollment database"):
        sigver.enroll(setup["scans"][1:], "bob", db=db, canvas_size=(700, 850),
                      device="cpu")


def test_a_model_recording_nothing_falls_back_to_gpds_with_a_warning(setup, tmp_path,
                                                                     capsys):
    db = tmp_path / "python.db"
    with pytest.warns(DefaultSettingsWarning) as caught:
        sigver.enroll(setup["scans"], "alice", db=db, model_path=setup["published"],
                      device="cpu")
    assert [str(w.message) for w in caught] == [
        f"the model folder of {setup['published']} records no preprocessing settings; "
        "using the default canvas 952 x 1360 (GPDS)"]
    settings, features = stored(db)
    assert settings.preprocessing == PreprocessingSettings()
    np.testing.assert_allclose(features, features_on((952, 1360), setup["published"],
                                                     setup["scans"]), rtol=1e-5, atol=1e-6)
    # Later enrollments take the settings from the database: no warning any more.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultSettingsWarning)
        sigver.enroll(setup["scans"][:1], "alice", db=db, device="cpu")
    capsys.readouterr()
    cli_db = tmp_path / "cli.db"
    assert sigver_main(["enroll", "--db", str(cli_db), "--model-path",
                        str(setup["published"]), "--user", "alice", "--device", "cpu",
                        *setup["scans"]]) == 0
    assert capsys.readouterr().err == (
        f"sigver: warning: the model folder of {setup['published']} records no "
        "preprocessing settings; using the default canvas 952 x 1360 (GPDS)\n")


def test_the_oversize_rule_travels_from_the_model_folder(setup, tmp_path):
    model = tmp_path / "cropping" / "model_best.pth"
    model.parent.mkdir()
    model.write_bytes(setup["trained"].read_bytes())
    write_model_settings(model, PreprocessingSettings(canvas_size=(200, 300),
                                                      crop_oversize=True))
    wide = str(write_image(tmp_path / "wide.png", seed=7, shape=(150, 700)))
    db = tmp_path / "sigver.db"
    with pytest.warns(UserWarning, match="wide.png: "):
        sigver.enroll([wide], "alice", db=db, model_path=model, device="cpu")
    settings, _ = stored(db)
    assert settings.crop_oversize is True and settings.canvas_size == (200, 300)
    # An explicit rule wins for one call; the database keeps its record.
    with pytest.raises(SigverError, match="larger than the canvas 200 x 300"):
        sigver.enroll([str(write_image(tmp_path / "wide2.png", seed=8, shape=(150, 700)))],
                      "bob", db=db, crop_oversize=False, device="cpu")
    assert stored(db)[0].crop_oversize is True
