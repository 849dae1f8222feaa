import subprocess
import sys

import sigver
from sigver.cli import main, run_main
from sigver.errors import SigverError


def test_version(capsys):
    out = subprocess.run([sys.executable, "-m", "sigver", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"sigver {sigver.__version__}"


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "sigver", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    assert "subcommands:" in out.stdout
    from sigver.cli import SUBCOMMANDS
    for name in SUBCOMMANDS:
        assert name in out.stdout


def test_unknown_subcommand_is_an_error(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_user_errors_are_one_line(capsys):
    def failing(argv):
        raise SigverError("data.npz: missing key(s) x")

    assert run_main(failing, []) == 2
    assert capsys.readouterr().err == "sigver: error: data.npz: missing key(s) x\n"


def test_missing_file_is_one_line(capsys):
    def failing(argv):
        with open("/nonexistent/file.npz"):
            pass

    assert run_main(failing, []) == 2
    err = capsys.readouterr().err
    assert err.startswith("sigver: error: /nonexistent/file.npz") and err.count("\n") == 1
