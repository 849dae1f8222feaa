"""``sigver train`` / ``python -m sigver.featurelearning.contrastive_train`` and
``python -m sigver.featurelearning.train``: flags, help, errors named by flag, --test."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from sigver.cli import main as sigver_main
from sigver.cli import run_main
from sigver.cli import train as cli
from sigver.featurelearning.config import TrainConfig
from sigver.featurelearning.models import create_model, save_model_file
from training_helpers import draw_store

COMMANDS = [(True, "sigver train"), (False, "python -m sigver.featurelearning.train")]


def _module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)


@pytest.mark.parametrize(("module", "prog"), [
    ("sigver.featurelearning.contrastive_train",
     "python -m sigver.featurelearning.contrastive_train"),
    ("sigver.featurelearning.train", "python -m sigver.featurelearning.train"),
])
def test_module_commands_show_their_own_prog(module, prog) -> None:
    out = _module(module, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: {prog} ")


@pytest.mark.parametrize(("contrastive", "prog"), COMMANDS)
def test_every_flag_has_help_and_one_default(contrastive, prog) -> None:
    parser = cli.build_parser(contrastive=contrastive)
    assert parser.prog == prog
    for action in parser._actions:
        assert action.help, action.option_strings
        text = " ".join(parser._get_formatter()._expand_help(action).split())
        assert text.count("default") <= 1, text
    text = " ".join(parser.format_help().split())
    for default in ("(default: 60)", "(default: [350, 881])", "(default: 42)",
                    "(default: 0.001)", "(default: [150, 220])"):
        assert default in text, default
    if contrastive:
        for default in ("(default: 0.1)", "(default: 0.01)", "(default: triplet)",
                        "(default: multi)", "(default: eq4)"):
            assert default in text, default
    else:
        assert "(default: L2)" in text and "(default: 32)" in text


@pytest.mark.parametrize("loss", [["--loss-type", "triplet", "--margin", "0.1"],
                                  ["--loss-type", "ntxent", "--temperature", "0.01"]])
def test_published_commands_parse_verbatim(loss) -> None:
    argv = ["--dataset-path", "data.npz", "--users", "350", "881", "--epochs", "60",
            "--logdir", "triplet_model", *loss]
    args = cli.build_parser(contrastive=True).parse_args(argv)
    config = TrainConfig(**cli.config_kwargs(args, contrastive=True))
    config.validate()
    assert (config.users, config.epochs, config.task, config.loss_type) == (
        (350, 881), 60, "multi", loss[1])
    assert (config.margin, config.temperature, config.batch_size) == (0.1, 0.01, None)


def test_first_task_loss_type_is_the_equation_choice() -> None:
    parser = cli.build_parser(contrastive=False)
    base = ["--dataset-path", "d.npz", "--logdir", "l", "--forg", "--lamb", "0.9"]
    first = TrainConfig(**cli.config_kwargs(parser.parse_args([*base, "--loss-type", "L1"]),
                                            contrastive=False))
    assert (first.task, first.forg, first.lamb, first.forg_loss, first.batch_size) == (
        "signet", True, 0.9, "eq3", 32)
    default = cli.config_kwargs(parser.parse_args(base), contrastive=False)
    assert default["forg_loss"] == "eq4"


def test_bad_values_are_one_line_naming_the_flag(tmp_path, capsys) -> None:
    base = ["--dataset-path", str(tmp_path / "none.npz"), "--logdir", str(tmp_path)]
    assert sigver_main(["train", *base, "--epochs", "0"]) == 2
    assert capsys.readouterr().err == "sigver: error: --epochs 0: must be >= 1\n"
    assert sigver_main(["train", *base, "--lr-decay-times", "0"]) == 2
    assert capsys.readouterr().err == "sigver: error: --lr-decay-times 0: must be >= 1\n"
    assert sigver_main(["train", *base, "--users", "3", "3"]) == 2
    assert capsys.readouterr().err == ("sigver: error: --users 3 3: the end must be greater "
                                       "than the start\n")
    assert run_main(cli.first_task_main, [*base, "--batch-size", "1"]) == 2
    assert capsys.readouterr().err == "sigver: error: --batch-size 1: must be >= 2\n"


@pytest.mark.slow
def test_module_shim_reports_errors_by_flag_and_the_library_never_loads_the_cli(
        tmp_path) -> None:
    out = _module("sigver.featurelearning.train", "--dataset-path", "d.npz", "--logdir",
                  str(tmp_path), "--epochs", "0")
    assert (out.returncode, out.stderr) == (2, "sigver: error: --epochs 0: must be >= 1\n")
    code = ("import sys, sigver.featurelearning.train, sigver.featurelearning."
            "contrastive_train; assert not any(m.startswith('sigver.cli') for m in "
            "sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_data_errors_name_the_flag(tmp_path, capsys) -> None:
    store = draw_store(tmp_path / "toy.npz", n_users=3, n_genuine=3, n_forgeries=0)
    base = ["--dataset-path", str(store), "--logdir", str(tmp_path / "out"),
            "--device", "cpu", "--no-progress"]
    assert sigver_main(["train", *base, "--users", "0", "1"]) == 2
    assert capsys.readouterr().err == ("sigver: error: --users 0 1: training needs at least "
                                       "2 users, found 1\n")
    assert sigver_main(["train", *base, "--users", "0", "3", "--input-size", "180", "220"]) == 2
    assert capsys.readouterr().err == ("sigver: error: --input-size 180 220: larger than the "
                                       "stored images (170 x 242)\n")


def test_test_mode_evaluates_the_checkpoint(tmp_path, capsys) -> None:
    store = draw_store(tmp_path / "toy.npz", n_users=3, n_genuine=4, n_forgeries=0)
    torch.manual_seed(0)
    model = create_model("signet_thin")
    model_path = tmp_path / "model.pth"
    save_model_file(model_path, model, nn.Linear(model.feature_space_size, 3))
    base = ["--dataset-path", str(store), "--logdir", str(tmp_path / "out"), "--users", "0",
            "3", "--device", "cpu", "--test", "--visdomport", "8097"]
    assert cli.first_task_main([*base, "--checkpoint", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "note: --visdomport is ignored" in out
    assert f"{model_path}: val_accuracy " in out
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as info:
        cli.main(base)
    assert info.value.code == 2
    assert "--test needs --checkpoint FILE" in capsys.readouterr().err
