"""Fault injection: every writing command killed (SIGKILL) at 3 seeded random moments
leaves no partial output under its final name and no corrupt database; the same command
run again afterwards completes, and ``train --resume`` ends with the weights of an
uninterrupted run.

Each command first runs once to completion (its wall time ``T`` and its output are the
reference); then three runs are killed after ``uniform(0.05, 1) * T`` seconds (a
``random.Random`` seeded per command). After each kill every output that exists under
its final name must load and match the reference, and the enrollment database must pass
SQLite's integrity check and hold either none or all of the killed run's references.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import build_world

pytestmark = pytest.mark.slow

SEED = 2024
KILLS = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("kill-world"))


def start(argv: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sigver", *argv], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def run_to_end(argv: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    process = start(argv, cwd)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()
    return time.perf_counter() - began


def kill_after(argv: list[str], cwd: Path, delay: float) -> None:
    process = start(argv, cwd)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


def kill_moments(name: str, duration: float) -> list[float]:
    rng = random.Random(SEED + zlib.crc32(name.encode()))
    return [rng.uniform(0.05, 1.0) * duration for _ in range(KILLS)]


def visible(folder: Path) -> set[str]:
    """Names under ``folder`` without the hidden temporary names of atomic writes."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if not any(part.startswith(".") for part in p.relative_to(folder).parts)}


# -- what a complete output is ------------------------------------------------------------

def same_store(path: Path, reference: Path) -> None:
    from sigver.datasets.util import load_dataset

    got, expected = load_dataset(path), load_dataset(reference)
    for a, b in zip(got, expected, strict=True):
        if isinstance(a, dict):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)


def same_features(path: Path, reference: Path) -> None:
    from sigver.features import load_features

    np.testing.assert_array_equal(load_features(path).features,
                                  load_features(reference).features)


def same_results(path: Path, reference: Path) -> None:
    # The metrics are the same; the files also record each fold's running time.
    with open(path, "rb") as handle, open(reference, "rb") as expected:
        got, want = pickle.load(handle), pickle.load(expected)
    assert len(got) == len(want)
    for fold, expected_fold in zip(got, want, strict=True):
        np.testing.assert_equal(fold["all_metrics"], expected_fold["all_metrics"])
    if path.with_suffix(".json").exists():
        json.loads(path.with_suffix(".json").read_text())
    if path.with_suffix(".md").exists():
        assert path.with_suffix(".md").read_text().count("|") > 0


def same_verifier(path: Path, reference: Path) -> None:
    from sigver.verification.persistence import load_verifier

    assert load_verifier(path).threshold == load_verifier(reference).threshold


COMMANDS = {
    "preprocess": (["preprocess", "--dataset", "folder", "--path", "{scans}",
                    "--save-path", "{out}/store.npz", "--no-progress", "--workers", "1"],
                   "store.npz", same_store),
    "preprocess-folder-store": (["preprocess", "--dataset", "folder", "--path", "{scans}",
                                 "--save-path", "{out}/store", "--no-progress",
                                 "--workers", "1"], "store", same_store),
    "synth": (["synth", "--writers", "6", "--genuine", "5", "--skilled", "2", "--seed", "3",
               "--out", "{out}/synth.npz", "--no-progress"], "synth.npz", same_store),
    "extract": (["extract", "--model-path", "{model}", "--data-path", "{store}", "--out",
                 "{out}/features.npz", "--no-progress", "--device", "cpu"],
                "features.npz", same_features),
    "wd": (["wd", "--features-path", "{features}", "--exp-users", "0", "3", "--dev-users",
            "3", "6", "--gen-for-train", "2", "--gen-for-test", "2", "--forg-from-dev", "2",
            "--folds", "3", "--quiet", "--save-path", "{out}/wd.pickle"],
           "wd.pickle", same_results),
    "wi": (["wi", "--features-path", "{features}", "--exp-users", "0", "3", "--dev-users",
            "3", "6", "--gen-for-train", "2", "--gen-for-test", "2", "--gen-for-ref", "2",
            "--folds", "3", "--quiet", "--save-path", "{out}/wi.pickle"],
           "wi.pickle", same_results),
    "wi-fit": (["wi", "fit", "--features-path", "{features}", "--gen-for-train", "4",
                "--gen-for-ref", "3", "--calibration-folds", "2", "--quiet", "--out",
                "{out}/wi.skops"], "wi.skops", same_verifier),
}


def fill(argv: list[str], world: dict, out: Path) -> list[str]:
    names = {key: str(value) for key, value in world.items()}
    return [arg.format(out=out, **names) for arg in argv]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_killed_command_leaves_no_partial_output(name, world, tmp_path):
    template, output, same = COMMANDS[name]
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    duration = run_to_end(fill(template, world, reference_dir), tmp_path)
    reference = reference_dir / output
    for index, delay in enumerate(kill_moments(name, duration)):
        out = tmp_path / f"killed{index}"
        out.mkdir()
        argv = fill(template, world, out)
        kill_after(argv, tmp_path, delay)
        assert visible(out) <= visible(reference_dir), (delay, visible(out))
        if (out / output).exists():
            same(out / output, reference)
        # Whatever the kill left behind, the command runs again and completes.
        run_to_end(argv, tmp_path)
        same(out / output, reference)
        assert visible(out) == visible(reference_dir)


def weights(path: Path) -> dict:
    import torch

    return torch.load(path, weights_only=True)[0]


def test_killed_training_resumes_to_the_uninterrupted_weights(world, tmp_path):
    import torch

    from sigver.featurelearning.models import read_model_file

    def argv(logdir: Path, *extra: str) -> list[str]:
        return ["train", "--dataset-path", str(world["store"]), "--logdir", str(logdir),
                "--users", "0", "4", "--task", "single", "--loss-type", "ntxent",
                "--epochs", "4", "--batch-size", "8", "--model", "signet_thin",
                "--device", "cpu", "--no-progress", *extra]

    duration = run_to_end(argv(tmp_path / "full"), tmp_path)
    expected = weights(tmp_path / "full" / "model_last.pth")
    for index, delay in enumerate(kill_moments("train", duration)):
        logdir = tmp_path / f"killed{index}"
        kill_after(argv(logdir), tmp_path, delay)
        if logdir.exists():
            for model in ("model_last.pth", "model_best.pth"):
                if (logdir / model).exists():
                    read_model_file(logdir / model)  # complete, never half-written
            if (logdir / "history.json").exists():
                json.loads((logdir / "history.json").read_text())
        run_to_end(argv(logdir, "--resume"), tmp_path)
        resumed = weights(logdir / "model_last.pth")
        for key in expected:
            assert torch.equal(expected[key], resumed[key]), (delay, key)


def references(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute(
            "SELECT users.name, COUNT(reference_signatures.id) FROM users LEFT JOIN "
            "reference_signatures ON reference_signatures.user_id = users.id "
            "GROUP BY users.name").fetchall()
    connection.close()
    return dict(rows)


def test_killed_enrollment_leaves_the_database_whole(world, tmp_path):
    images = sorted(str(p) for p in (world["scans"] / "002").glob("c-*.png"))[:4]
    before = references(world["db"])
    db = tmp_path / "reference.db"
    shutil.copy(world["db"], db)
    argv = ["enroll", "--db", str(db), "--user", "bob", "--device", "cpu", *images]
    duration = run_to_end(argv, tmp_path)
    assert references(db) == {**before, "bob": 4}
    for index, delay in enumerate(kill_moments("enroll", duration)):
        db = tmp_path / f"killed{index}.db"
        shutil.copy(world["db"], db)
        argv[2] = str(db)
        kill_after(argv, tmp_path, delay)
        after = references(db)
        assert after in (before, {**before, "bob": 4}), (delay, after)
        run_to_end(argv, tmp_path)
        assert references(db) == {**before, "bob": 4}
