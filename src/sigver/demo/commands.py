"""The report's "reproduce by hand" commands, spelled from the objects the demo runs with.

``reproduce_commands`` builds the same ``TrainConfig`` objects and protocol keyword
arguments as ``run_demo`` (``sigver.demo.settings``) and turns each into the command that
makes the same call: ``sigver train`` for a ``TrainConfig``, ``sigver wd`` / ``sigver wi``
for the keyword arguments of ``sigver.wd.run`` / ``sigver.wi.run``, and so on. The flag
names are those of the commands' parsers (the ``cli`` package); the tests parse every line
with those parsers and compare the result with the demo's objects.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sigver.demo.settings import (
    DemoPaths,
    DemoSettings,
    protocol_kwargs,
    synth_kwargs,
    train_configs,
)
from sigver.featurelearning.config import TrainConfig

# TrainConfig fields that only change what is shown, not what is computed.
_DISPLAY_ONLY = ("progress",)
# Switches of ``sigver train`` that turn a field off.
_INVERTED = {"amp": "--no-amp"}
# sigver.wd.run / sigver.wi.run parameters -> flags of ``sigver wd`` / ``sigver wi``.
_PROTOCOL_FLAGS = {
    "exp_users": "--exp-users", "dev_users": "--dev-users",
    "num_gen_train": "--gen-for-train", "num_gen_test": "--gen-for-test",
    "num_gen_ref": "--gen-for-ref", "num_forg_from_exp": "--forg-from-exp",
    "num_forg_from_dev": "--forg-from-dev", "folds": "--folds", "jobs": "--jobs",
    "seed": "--seed", "svm_type": "--svm-type", "C": "--svm-c", "gamma": "--svm-gamma",
    "global_threshold": "--thr", "fusion": "--fusion"}
# The method each command runs without a switch, and the switch of the others.
_METHOD_SWITCHES = {"wd": ("fast", {"exact": "--exact", "reference": "--reference"}),
                    "wi": ("fast", {"reference": "--reference"})}


def _value(flag: str, value: Any) -> list[str]:
    if isinstance(value, (tuple, list)):
        return [flag, *(str(v) for v in value)]
    return [flag, str(value)]


def train_arguments(config: TrainConfig) -> list[str]:
    """The ``sigver train`` flags that give ``config``: the required ones and every field
    that differs from ``TrainConfig``'s default (display-only fields left out)."""
    argv: list[str] = []
    for field in dataclasses.fields(TrainConfig):
        value = getattr(config, field.name)
        required = field.default is dataclasses.MISSING
        if field.name in _DISPLAY_ONLY or (not required and value == field.default):
            continue
        if field.name in _INVERTED:
            argv.append(_INVERTED[field.name])
        elif isinstance(value, bool):
            argv.append("--" + field.name.replace("_", "-"))
        elif value is None or field.name == "val_fraction":
            raise ValueError(f"TrainConfig.{field.name}={value!r} has no 'sigver train' "
                             "spelling")
        else:
            argv += _value("--" + field.name.replace("_", "-"), value)
    return argv


def protocol_arguments(protocol: str, kwargs: dict[str, Any]) -> list[str]:
    """The ``sigver wd`` / ``sigver wi`` flags that make the call ``run(**kwargs)``."""
    default_method, switches = _METHOD_SWITCHES[protocol]
    argv: list[str] = []
    for name, value in kwargs.items():
        if name == "method":
            if value != default_method:
                if value not in switches:
                    raise ValueError(f"method={value!r} has no 'sigver {protocol}' spelling")
                argv.append(switches[value])
        elif name in _PROTOCOL_FLAGS:
            argv += _value(_PROTOCOL_FLAGS[name], value)
        else:
            raise ValueError(f"{name}={value!r} has no 'sigver {protocol}' spelling")
    return argv


def reproduce_commands(settings: DemoSettings, out_dir: str | Path, *,
                       canvas_size: Sequence[int], device: str = "auto") -> list[list[str]]:
    """Each stage of ``run_demo(out_dir, settings, device=device)`` as a command (argv
    lists starting with ``sigver``), for the trained model.

    ``canvas_size`` is the canvas the synthetic scans are preprocessed on (recorded by
    ``generate_images`` in ``synth.json``).
    """
    paths = DemoPaths(out_dir)
    synth = synth_kwargs(settings)
    commands = [[
        "sigver", "synth", "--writers", str(synth["writers"]), "--genuine",
        str(synth["genuine"]), "--skilled", str(synth["skilled"]), "--seed",
        str(synth["seed"]), "--forger-skill", str(synth["skill"]), "--format", "images",
        "--out", str(paths.images)],
        ["sigver", "preprocess", "--dataset", "gpds", "--path", str(paths.images),
         "--save-path", str(paths.store), *_value("--canvas-size", canvas_size)]]
    for config in train_configs(settings, paths.store, paths.model_dir, device=device):
        commands.append(["sigver", "train", *train_arguments(config)])
    device_flag = [] if device == "auto" else ["--device", device]
    commands.append(["sigver", "extract", "--model-path", str(paths.model), "--data-path",
                     str(paths.store), "--out", str(paths.features("trained")),
                     *device_flag])
    for protocol in ("wd", "wi"):
        commands.append([
            "sigver", protocol, "--features-path", str(paths.features("trained")),
            *protocol_arguments(protocol, protocol_kwargs(settings, protocol)),
            "--save-path", str(paths.result(protocol, "trained"))])
    return commands


def format_commands(commands: list[list[str]]) -> str:
    """One shell line per command, quoted where needed."""
    return "\n".join(shlex.join(argv) for argv in commands)
