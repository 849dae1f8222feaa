"""The report's "reproduce by hand" commands: each line, parsed by the real command, makes
the call the demo made (the same ``TrainConfig``, the same protocol keyword arguments)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import shlex
from pathlib import Path

import pytest

from sigver.cli import train as train_cli
from sigver.cli import wd as wd_cli
from sigver.cli import wi as wi_cli
from sigver.demo.commands import (
    format_commands,
    protocol_arguments,
    reproduce_commands,
    train_arguments,
)
from sigver.demo.settings import (
    FULL,
    QUICK,
    DemoPaths,
    protocol_kwargs,
    synth_kwargs,
    train_configs,
)
from sigver.featurelearning.config import TrainConfig
from sigver.synthetic.generate import CANVAS
from sigver.wd.protocol import run as run_wd
from sigver.wi.protocol import run as run_wi

CASES = [(FULL, "auto"), (QUICK, "cpu"), (dataclasses.replace(FULL, seed=7, lamb=0.5), "cuda")]


def parser_of(command: str):
    """The parser of ``sigver COMMAND``: ``sigver.cli.COMMAND.build_parser``, or, while a
    command module still forwards to its old home, the parser of the module its ``main``
    comes from (the parser that command runs)."""
    module = importlib.import_module(f"sigver.cli.{command}")
    if not hasattr(module, "build_parser"):
        module = importlib.import_module(module.main.__module__)
    return module.build_parser()


class CallCapturedError(Exception):
    """Raised by a stand-in for the call a command makes, carrying its arguments."""


def protocol_call(cli_module, argv: list[str], monkeypatch) -> dict:
    """The keyword arguments ``sigver wd`` / ``sigver wi`` passes to ``run`` for ``argv``
    (the command's own parsing and checks; no features are loaded)."""
    def stand_in(parser, args, name, run, check, kwargs):
        check()
        raise CallCapturedError(kwargs)

    monkeypatch.setattr(cli_module, "run_protocol_command", stand_in)
    with pytest.raises(CallCapturedError) as captured:
        cli_module.main(argv)
    return captured.value.args[0]


def lines_of(settings, out: Path, device: str) -> dict[str, list[list[str]]]:
    """The report's lines, split as a shell does, grouped by subcommand."""
    text = format_commands(reproduce_commands(settings, out, canvas_size=CANVAS,
                                              device=device))
    by_command: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        argv = shlex.split(line)
        assert argv[0] == "sigver"
        by_command.setdefault(argv[1], []).append(argv[2:])
    return by_command


@pytest.mark.parametrize("settings, device", CASES)
def test_train_lines_give_the_demos_train_configs(tmp_path, settings, device):
    out = tmp_path / "demo out"  # a space: the lines are quoted for the shell
    paths = DemoPaths(out)
    expected = train_configs(settings, paths.store, paths.model_dir, device=device)
    parser = train_cli.build_parser()
    parsed = [TrainConfig(**train_cli.config_kwargs(parser.parse_args(argv), contrastive=True))
              for argv in lines_of(settings, out, device)["train"]]
    assert len(parsed) == 2
    for got, want in zip(parsed, expected, strict=True):
        # gpu_idx: the command's default 0 is the library's None on a one-GPU machine;
        # progress only changes what is shown.
        got = dataclasses.replace(got, gpu_idx=want.gpu_idx, progress=want.progress)
        assert got == want
    assert parsed[0].lamb == settings.lamb and parsed[0].epochs == settings.first_epochs
    assert parsed[1].epochs == settings.triplet_epochs
    assert parsed[1].checkpoint == str(paths.model_dir / "first_task" / "model_best.pth")


@pytest.mark.parametrize("settings, device", CASES)
@pytest.mark.parametrize("protocol, cli_module, run", [("wd", wd_cli, run_wd),
                                                       ("wi", wi_cli, run_wi)])
def test_protocol_lines_make_the_demos_calls(tmp_path, monkeypatch, settings, device,
                                             protocol, cli_module, run):
    out = tmp_path / "out"
    (argv,) = lines_of(settings, out, device)[protocol]
    called = protocol_call(cli_module, argv, monkeypatch)
    demo = protocol_kwargs(settings, protocol)
    defaults = {name: p.default for name, p in inspect.signature(run).parameters.items()}
    for name, value in called.items():
        if name == "progress":
            continue
        # What the demo passes, and the library's default for what it leaves out.
        assert value == demo.get(name, defaults[name]), name
    assert set(demo) <= set(called)
    assert argv[argv.index("--features-path") + 1] == str(out / "features_trained.npz")
    if protocol == "wd":
        assert called["method"] == "exact" and "--exact" in argv


@pytest.mark.parametrize("settings, device", CASES)
def test_data_and_extraction_lines_match_the_demo(tmp_path, settings, device):
    out = tmp_path / "out"
    paths = DemoPaths(out)
    lines = lines_of(settings, out, device)
    (synth,) = [parser_of("synth").parse_args(argv) for argv in lines["synth"]]
    expected = synth_kwargs(settings)
    assert (synth.writers, synth.genuine, synth.skilled, synth.seed, synth.forger_skill) == (
        expected["writers"], expected["genuine"], expected["skilled"], expected["seed"],
        expected["skill"])
    assert synth.format == "images" and Path(synth.out) == paths.images
    (prep,) = [parser_of("preprocess").parse_args(argv) for argv in lines["preprocess"]]
    assert prep.dataset == "gpds" and Path(prep.path) == paths.images
    assert Path(prep.save_path) == paths.store and tuple(prep.canvas_size) == CANVAS
    (extract,) = [parser_of("extract").parse_args(argv) for argv in lines["extract"]]
    assert (extract.model_path, extract.data_path, extract.out) == (
        str(paths.model), str(paths.store), str(paths.features("trained")))
    assert extract.device == device


def test_settings_without_a_command_spelling_are_refused():
    config = TrainConfig(dataset_path="d.npz", logdir="m", val_fraction=0.2)
    with pytest.raises(ValueError, match="val_fraction"):
        train_arguments(config)
    with pytest.raises(ValueError, match="method='exact'"):
        protocol_arguments("wi", {"method": "exact"})
    assert protocol_arguments("wd", {"method": "fast", "folds": 3}) == ["--folds", "3"]
