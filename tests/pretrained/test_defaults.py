"""Enrollment and verification with no model and no classifier: the built-in ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sigver
from sigver.cli import main as sigver_main
from sigver.errors import ParameterError
from sigver.featurelearning.models import SigNet_thin, save_model_file
from sigver.io import file_sha256
from sigver.pretrained import classifier_path, model_path
from sigver.settings import read_model_settings
from sigver.synthetic.generate import generate_images
from sigver.verification.database import EnrollmentDatabase
from sigver.verification.persistence import load_verifier

pytestmark = pytest.mark.slow  # CNN features of a few dozen scans per test


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Genuine scans of 3 synthetic writers the built-in model never saw (seed 77)."""
    root = tmp_path_factory.mktemp("scans")
    generate_images(root, writers=3, genuine=6, skilled=0, seed=77, progress=False)
    return {folder.name: sorted(folder.glob("c-*.png"))
            for folder in sorted(p for p in root.iterdir() if p.is_dir())}


def test_the_api_uses_the_built_in_model_and_classifier(scans, tmp_path) -> None:
    db = tmp_path / "bank.db"
    anna, bert, carl = scans.values()
    sigver.enroll(anna[:4], "anna", db=db, device="cpu")
    with EnrollmentDatabase(db) as database:
        settings = database.settings()
    assert settings.model_sha256 == file_sha256(model_path())
    assert settings.preprocessing == read_model_settings(model_path())
    results = sigver.verify(anna[4:] + bert[:2] + carl[:2], "anna", db=db, device="cpu")
    assert results[0].threshold == load_verifier(classifier_path()).threshold
    scores = np.array([r.score for r in results])
    # the writer's own signatures score above the other writers'
    assert scores[:2].min() > scores[2:].max()


def test_the_commands_need_no_model_and_no_classifier(scans, tmp_path, capsys) -> None:
    db = str(tmp_path / "bank.db")
    anna, bert, _ = scans.values()
    assert sigver_main(["enroll", "--db", db, "--user", "anna", "--device", "cpu",
                        *map(str, anna[:4])]) == 0
    assert "built-in model" in capsys.readouterr().err
    assert sigver_main(["enroll", "--db", db, "--user", "bert", "--device", "cpu",
                        *map(str, bert[:4])]) == 0
    assert "built-in" not in capsys.readouterr().err  # the database's model from now on
    assert sigver_main(["verify", "--db", db, "--user", "anna", "--device", "cpu",
                        "--summary", str(anna[5]), str(bert[5])]) == 0
    captured = capsys.readouterr()
    assert "built-in writer-independent classifier" in captured.err
    lines = captured.out.splitlines()
    assert "GENUINE" in lines[0].upper() and "FORGERY" in lines[1].upper()


def test_the_built_in_classifier_refuses_another_models_database(scans, tmp_path) -> None:
    torch.manual_seed(0)
    other = tmp_path / "other" / "model.pth"
    other.parent.mkdir()
    save_model_file(other, SigNet_thin())
    db = tmp_path / "bank.db"
    sigver.enroll(scans["001"][:2], "anna", db=db, model_path=other,
                  canvas_size=(840, 1200), device="cpu")
    with pytest.raises(ParameterError, match="built-in classifier"):
        sigver.Verifier(db, device="cpu")
