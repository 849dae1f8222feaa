"""``sigver wd`` / ``sigver wi [test | fit]`` and their published module spellings: prog
names, help for every flag with its default shown once, the same flags both ways."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sigver.cli import main, wd, wi

PARSERS = {"sigver wd": wd.build_parser, "sigver wi": wi.build_parser,
           "sigver wi fit": wi.build_fit_parser}


# How each command is typed -> the prog its --help must show.
COMMANDS = {("sigver", "wd"): "sigver wd", ("sigver.wd.test",): "python -m sigver.wd.test",
            ("sigver", "wi"): "sigver wi", ("sigver.wi.test",): "python -m sigver.wi.test",
            ("sigver", "wi", "fit"): "sigver wi fit"}


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    """``--help`` of every command, run as the shell runs it."""
    return {command: subprocess.run([sys.executable, "-m", *command, "--help"],
                                    capture_output=True, text=True, check=True).stdout
            for command in COMMANDS}


@pytest.mark.slow
def test_help_shows_the_command_as_typed_and_module_commands_take_the_same_flags(helps):
    for command, prog in COMMANDS.items():
        assert helps[command].startswith(f"usage: {prog} [-h]"), command
    for typed, published in ((("sigver", "wd"), ("sigver.wd.test",)),
                             (("sigver", "wi"), ("sigver.wi.test",))):
        flags = set(re.findall(r"--[a-z-]+", helps[published]))
        typed_flags = set(re.findall(r"--[a-z-]+", helps[typed]))
        # WD only: the published command reproduces by default and takes --fast, 'sigver
        # wd' runs the fast method by default and takes --exact (docs/reproducing.md)
        expected = {"--fast", "--exact"} if typed == ("sigver", "wd") else set()
        assert flags ^ typed_flags == expected
        assert {"--model-path", "--data-path", "--save-path", "--input-size", "--exp-users",
                "--dev-users", "--gen-for-train", "--gen-for-test", "--svm-type", "--svm-c",
                "--svm-gamma", "--thr", "--gpu-idx", "--batch-size", "--folds"} <= flags


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_flag_has_help_and_at_most_one_default(name):
    parser = PARSERS[name](name)
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{name} {action.option_strings} has no help"
        flag = action.option_strings[-1]
        # the flag's entry: from its line to the next flag's
        entry = re.search(rf"^  {re.escape(flag)}\b.*?(?=^  -|^\S|\Z)", text,
                          re.MULTILINE | re.DOTALL).group(0)
        assert len(re.findall(r"default", entry)) <= 1, entry
        if action.default not in (None, False):
            assert "(default:" in " ".join(entry.split()), entry


def test_published_defaults_are_kept():
    args = wd.build_parser().parse_args([])
    assert (tuple(args.exp_users), tuple(args.dev_users)) == ((0, 300), (5000, 7000))
    assert (args.gen_for_train, args.gen_for_test, args.forg_from_exp, args.forg_from_dev,
            args.svm_type, args.svm_c, args.svm_gamma, args.thr, args.folds,
            args.gpu_idx, args.batch_size) == (
        12, 10, 0, 14, "rbf", 1.0, 2 ** -11, 0.0, 10, 0, 32)
    # no --input-size: the store's recorded input size, else the published 150 220
    # (extract_store, tests/featurelearning/test_extract.py)
    assert args.input_size is None
    args = wi.build_parser().parse_args([])
    assert (args.gen_for_ref, args.fusion, args.seed) == (12, "max", 1234)


def test_bad_flags_fail_before_features_are_read(tmp_path, capsys):
    missing = str(tmp_path / "missing.npz")
    for argv, message in ((["wd", "--folds", "0"], "--folds 0: at least 1 fold"),
                          (["wd", "--jobs", "-1"], "--jobs -1: must be >= 0"),
                          (["wd", "--forg-from-dev", "0"], "--forg-from-dev 0: no negatives"),
                          (["wi", "--fusion", "max", "--reference", "--folds", "-2"],
                           "--folds -2"),
                          (["wd", "--save-path", str(tmp_path / "no" / "r.pickle")],
                           "folder does not exist")):
        assert main([*argv, "--features-path", missing]) == 2
        err = capsys.readouterr().err
        assert message in err and "missing.npz" not in err, err
    assert main(["wd", "--exp-users", "0", "10"]) == 2
    assert ("--features-path: give a feature file, or a model file and a dataset store"
            in capsys.readouterr().err)
