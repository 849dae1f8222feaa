"""``sigver preprocess / synth / extract / enroll / verify``: each parser lives in
``sigver.cli``, shows its own prog, one default per flag and help for every flag; the
library modules behind them import neither argparse nor the CLI."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sigver.cli import enroll, extract, preprocess, synth, verify

COMMANDS = {"preprocess": preprocess, "synth": synth, "extract": extract, "enroll": enroll,
            "verify": verify}
LIBRARY = ["sigver.preprocessing.process_dataset", "sigver.synthetic.generate",
           "sigver.featurelearning.extract", "sigver.verification.api",
           "sigver.verification.database", "sigver.features", "sigver.datasets.util"]


def help_text(module, prog):
    return " ".join(module.build_parser(prog).format_help().split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_flag_has_help_and_at_most_one_default(name):
    parser = COMMANDS[name].build_parser()
    assert parser.prog == f"sigver {name}"
    for action in parser._actions:
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
    text = parser.format_help()
    # Argparse lays out one flag per entry; join wrapped lines back to their entry.
    entries = " ".join(text.split()).split(" --")
    assert all(entry.count("default") <= 1 for entry in entries), text


def test_shims_show_their_published_prog():
    for module, published in (("sigver.preprocessing.process_dataset", "preprocess"),
                              ("sigver.featurelearning.extract", "extract")):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: python -m {module} ")
        assert help_text(COMMANDS[published], f"python -m {module}") == " ".join(
            result.stdout.split())


def test_library_modules_do_not_parse_arguments_or_import_the_cli():
    src = Path(importlib.util.find_spec("sigver").origin).parent
    for name in LIBRARY:
        source = (src / Path(*name.split(".")[1:])).with_suffix(".py").read_text()
        body = source.split('if __name__ == "__main__":')[0]
        for statement in ("import argparse", "from sigver.cli", "import sigver.cli",
                          "from ..cli", "from .cli"):
            assert statement not in body, (name, statement)
    code = ("import sys; import " + ", ".join(LIBRARY) +
            "; print(sorted(m for m in sys.modules if m.startswith('sigver.cli')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_old_enrollment_modules_are_gone():
    for name in ("sigver.verification.store", "sigver.verification.enroll",
                 "sigver.verification.verify", "sigver.synthetic.synth"):
        assert importlib.util.find_spec(name) is None, name
