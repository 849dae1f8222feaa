"""Enrollment and verification with an ONNX export of the database's model: the same
scores as with the PyTorch file, another model's export refused, and a ``sigver verify``
with an export that never imports PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sigver.cli import main as sigver_main
from sigver.io import file_sha256
from sigver.verification.database import EnrollmentDatabase

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def enrolled(cli_world, tmp_path_factory):
    """A database enrolled with the PyTorch model: writer 001's first 5 genuine scans."""
    db = tmp_path_factory.mktemp("onnx-db") / "torch.db"
    genuine = cli_world["writers"]["001"]["genuine"]
    canvas = [str(v) for v in cli_world["canvas"]]
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(cli_world["model"]),
                        "--canvas-size", *canvas, "--user", "w1",
                        *map(str, genuine[:5])]) == 0
    return db


def verify_json(world, db, files, capsys, *extra, user="w1"):
    capsys.readouterr()
    assert sigver_main(["verify", "--db", str(db), "--classifier", str(world["classifier"]),
                        "--user", user, "--json", *extra, *map(str, files)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_an_export_of_the_database_model_gives_its_scores(cli_world, enrolled, capsys):
    questioned = (cli_world["writers"]["001"]["genuine"][5:7]
                  + cli_world["writers"]["001"]["skilled"][:2])
    by_torch = verify_json(cli_world, enrolled, questioned, capsys, "--method", "wi")
    by_onnx = verify_json(cli_world, enrolled, questioned, capsys, "--method", "wi",
                          "--model-path", str(cli_world["onnx"]))
    for a, b in zip(by_torch["results"], by_onnx["results"], strict=True):
        assert b["score"] == pytest.approx(a["score"], abs=1e-4)
        assert [r["score"] for r in b["reference_scores"]] == pytest.approx(
            [r["score"] for r in a["reference_scores"]], abs=1e-4)
    # more references enrolled through the export land in the same database
    more = cli_world["writers"]["001"]["genuine"][7]
    assert sigver_main(["enroll", "--db", str(enrolled), "--model-path",
                        str(cli_world["onnx"]), "--engine", "onnx", "--user", "w1",
                        str(more)]) == 0
    with EnrollmentDatabase(enrolled) as database:
        assert database.users() == [("w1", 6)]
        assert database.settings().model_sha256 == file_sha256(cli_world["model"])
        assert database.settings().model_path == str(cli_world["model"].resolve())


@pytest.mark.slow
def test_another_models_export_and_a_wrong_engine_are_refused(cli_world, enrolled, capsys):
    scan = str(cli_world["writers"]["001"]["genuine"][5])
    verify = ["verify", "--db", str(enrolled), "--classifier", str(cli_world["classifier"]),
              "--user", "w1"]
    cases = [
        ([*verify, "--model-path", str(cli_world["other_onnx"]), scan],
         f"--model-path {cli_world['other_onnx']}: not the model this database was enrolled "
         "with"),
        (["enroll", "--db", str(enrolled), "--user", "w2", "--model-path",
          str(cli_world["other_onnx"]), scan], "not the model this database was enrolled with"),
        ([*verify, "--engine", "onnx", scan],
         "is a PyTorch model file, not an ONNX export"),
        ([*verify, "--engine", "torch", "--model-path", str(cli_world["onnx"]), scan],
         "not a readable model file"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert sigver_main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_a_database_created_with_an_export_takes_its_recorded_settings(cli_world, tmp_path,
                                                                       capsys):
    db = tmp_path / "onnx.db"
    genuine = [str(p) for p in cli_world["writers"]["002"]["genuine"][:5]]
    capsys.readouterr()
    # the export records canvas 840 x 1200: no default-settings warning, and a
    # contradicting canvas is refused naming the export's metadata
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(cli_world["onnx"]),
                        "--canvas-size", "952", "1360", "--user", "w2", *genuine]) == 2
    err = capsys.readouterr().err
    assert ("--canvas-size 952 1360: contradicts 840 1200 recorded in the metadata of the "
            f"ONNX export {cli_world['onnx']}") in err
    assert not db.exists()
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(cli_world["onnx"]),
                        "--user", "w2", *genuine]) == 0
    assert "warning" not in capsys.readouterr().err
    with EnrollmentDatabase(db) as database:
        settings = database.settings()
    assert settings.canvas_size == tuple(cli_world["canvas"])
    assert settings.model_sha256 == file_sha256(cli_world["model"])
    # the PyTorch file verifies against it (the classifier was fitted with it)
    report = verify_json(cli_world, db, genuine[:1], capsys, "--model-path",
                         str(cli_world["model"]), user="w2")
    assert report["results"][0]["is_reference"]


PROBE = """
import json, sys
from sigver.cli import main
status = main({argv!r})
print(json.dumps({{"status": status,
                   "heavy": sorted(m for m in ("torch", "sklearn", "skops")
                                   if m in sys.modules)}}))
"""


@pytest.mark.slow
def test_verify_with_an_export_never_imports_torch(cli_world, enrolled, capsys):
    scans = [str(p) for p in cli_world["writers"]["001"]["skilled"][:2]]
    argv = ["verify", "--db", str(enrolled), "--classifier", str(cli_world["classifier"]),
            "--user", "w1", "--model-path", str(cli_world["onnx"]), "--json", *scans]
    run = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)],
                         capture_output=True, text=True, env={"PYTHONPATH": str(SRC)})
    assert run.returncode == 0, run.stderr
    *report, probe = run.stdout.strip().splitlines()
    assert json.loads(probe) == {"status": 0, "heavy": []}
    in_process = verify_json(cli_world, enrolled, scans, capsys)
    assert [r["score"] for r in json.loads("\n".join(report))["results"]] == pytest.approx(
        [r["score"] for r in in_process["results"]], abs=1e-4)


def test_the_verification_api_imports_neither_torch_nor_scikit_learn():
    code = ("import sys\n"
            "import sigver.verification.api, sigver.cli.verify, sigver.cli.enroll\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'skops', 'onnxruntime') "
            "if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC)}, check=True)
    assert run.stdout.strip() == "[]"
