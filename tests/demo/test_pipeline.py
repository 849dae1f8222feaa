"""``sigver demo --quick`` end to end (the CI run of the whole pipeline), its report, and
the demo's tables and claims."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from sigver.cli.demo import main
from sigver.datasets.util import load_dataset
from sigver.demo.commands import format_commands, reproduce_commands
from sigver.demo.pipeline import format_table, metrics_table, target_check
from sigver.demo.settings import FULL, QUICK
from sigver.errors import ParameterError, SigverError
from sigver.features import load_features
from sigver.io import file_sha256
from sigver.synthetic.generate import CANVAS

STAGES = ["synthesize", "preprocess", "train", "extract", "WD", "WI", "report"]


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    """One ``sigver demo --quick`` run shared by the tests of this module: (output folder,
    exit status, console output)."""
    out = tmp_path_factory.mktemp("demo")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["--quick", "--out", str(out), "--no-progress", "--device", "cpu"])
    return out, status, buffer.getvalue()


def test_quick_demo_completes_and_prints_table_and_report_path(quick_demo):
    out, status, console = quick_demo
    assert status == 0
    for stage in STAGES:
        assert f"[{stage}] done in " in console
    table = console[console.index("run "):]
    for run in ("WD trained", "WD untrained", "WI trained", "WI untrained"):
        assert re.search(rf"^{run}\s+\d+\.\d\d ± \d+\.\d\d", table, re.MULTILINE)
    assert f"report: {out / 'report.md'}" in console


def test_quick_demo_files_are_consistent(quick_demo):
    out = quick_demo[0]
    s = QUICK
    writers = s.exp_writers + s.dev_writers
    # The scans went through process_dataset (gpds layout), then were deleted.
    assert not (out / "images").exists()
    x, y, yforg, _, filenames = load_dataset(out / "data.npz")
    assert x.shape == (writers * (s.genuine + s.skilled), 1, 170, 242)
    assert np.bincount(y).tolist() == [s.genuine + s.skilled] * writers
    assert (yforg == 1).sum() == writers * s.skilled
    assert filenames[0] == "001/c-001-01.png"
    assert sorted({name.split("/")[0] for name in filenames}) == [
        f"{w:03d}" for w in range(1, writers + 1)]
    # One feature file per model, tied to the model file that produced it.
    for kind, model in (("trained", out / "model" / "model_best.pth"),
                        ("untrained", out / "untrained.pth")):
        features = load_features(out / f"features_{kind}.npz")
        assert features.features.shape == (len(y), 1024)  # signet_thin
        assert features.model_sha256 == file_sha256(model)
        np.testing.assert_array_equal(features.y, y)
    trained = load_features(out / "features_trained.npz").features
    untrained = load_features(out / "features_untrained.npz").features
    assert not np.allclose(trained, untrained)
    # Results of every protocol run, as the published tooling writes them.
    for protocol in ("wd", "wi"):
        for kind in ("trained", "untrained"):
            for suffix in (".pickle", ".json"):
                assert (out / "results" / f"{protocol}_{kind}{suffix}").is_file()


def test_quick_demo_report_shows_every_element(quick_demo):
    out = quick_demo[0]
    md = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## What learning bought", "## 1. Data", "## 2. Feature learning",
                    "## 3. Verification results", "## Time per stage"):
        assert heading in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    expected = {"figures/examples.png", "figures/processed.png",
                "figures/training_curves.png"} | {
        f"figures/{p}/{name}.png" for p in ("wd", "wi")
        for name in ("roc", "det", "scores_trained", "scores_untrained")}
    assert set(links) == expected
    assert all((out / link).is_file() for link in links)
    # Every stage has a row in the time table.
    for stage in [*STAGES, "total"]:
        assert re.search(rf"^\| {stage} \| \d+\.\d \|", md, re.MULTILINE)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(expected)
    assert not re.search(r'src="(?!data:)', page)


def test_quick_demo_report_commands_are_spelled_from_its_settings(quick_demo):
    # What each line does is checked in test_commands.py; here: the report shows those
    # lines for the settings and device this run used.
    out = quick_demo[0]
    md = (out / "report.md").read_text(encoding="utf-8")
    block = md[md.index("## 4. Reproduce"):]
    expected = format_commands(reproduce_commands(QUICK, out, canvas_size=CANVAS,
                                                  device="cpu"))
    assert f"```\n{expected}\n```" in block
    assert "--exact" in block and "--forger-skill 0.1" in block


def test_demo_help_both_ways_shows_its_own_prog_and_one_default_per_flag():
    outputs = {prog: subprocess.run([sys.executable, *prefix, "--help"],
                                    capture_output=True, text=True, check=True).stdout
               for prog, prefix in (("sigver demo", ["-m", "sigver", "demo"]),
                                    ("python -m sigver.demo", ["-m", "sigver.demo"]))}
    for prog, text in outputs.items():
        assert text.startswith(f"usage: {prog} ")
        assert "--quick" in text and "--out DIR" in text
        options = text[text.index("options:"):]
        assert "None" not in options
        flags = re.split(r"\n  (?=-)", options)[1:]
        assert all(entry.count("default") <= 1 for entry in flags), flags
        # help text for every flag
        assert all(len(entry.split()) > 2 for entry in flags), flags
    assert f"(default {FULL.first_epochs}; with --quick {QUICK.first_epochs})" in " ".join(
        outputs["sigver demo"].split())


@pytest.mark.parametrize("argv, message", [
    (["--first-epochs", "0"], "--first-epochs 0: must be >= 1"),
    (["--triplet-epochs", "-1"], "--triplet-epochs -1: must be >= 1"),
    (["--workers", "-1"], "--workers -1"),
])
def test_bad_flags_are_one_line_errors(tmp_path, argv, message):
    with pytest.raises(SigverError, match=message):
        main(["--quick", "--out", str(tmp_path / "out"), *argv])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("field, value, problem", [
    ("first_epochs", 0, "must be >= 1"),
    ("folds", 0, "must be >= 1"),
    ("exp_writers", 3, "random forgeries need more than gen_for_test=3"),
    ("dev_writers", 1, "feature learning needs at least 2 writers"),
    ("model", "vgg", "choose one of"),
    ("lamb", 1.5, r"must be in \[0, 1\]"),
    ("genuine", 6, "fewer than gen_for_train \\+ gen_for_test = 7"),
])
def test_settings_errors_name_the_field(field, value, problem):
    settings = dataclasses.replace(QUICK, **{field: value})
    with pytest.raises(ParameterError, match=rf"^{field}={value!r}: {problem}") as error:
        settings.validate()
    assert error.value.param == field
    FULL.validate()
    QUICK.validate()


def _folds(eer_user, far_random, n=2):
    metrics = {"EER": 0.1, "EER_userthresholds": eer_user, "mean_AUC": 0.9, "FRR": 0.05,
               "FAR_random": far_random, "FAR_skilled": 0.2, "global_threshold": 0.0}
    return [{"all_metrics": dict(metrics)} for _ in range(n)]


def test_target_check_reports_both_outcomes():
    good = {"WD trained": _folds(0.05, 0.01), "WD untrained": _folds(0.2, 0.3)}
    bad = {"WD trained": _folds(0.15, 0.08), "WD untrained": _folds(0.2, 0.3)}
    assert [holds for _, holds in target_check(good)] == [True, True]
    assert [holds for _, holds in target_check(bad)] == [False, False]
    assert "15.00 %" in target_check(bad)[0][0] and "10.00 %" in target_check(bad)[0][0]


def test_metrics_table_and_console_format():
    header, rows = metrics_table({"WD trained": _folds(0.05, 0.01)})
    assert header[0] == "run" and "EER (user thresholds) (%)" in header
    assert rows[0][header.index("EER (user thresholds) (%)")] == "5.00 ± 0.00"
    assert rows[0][header.index("mean AUC")] == "0.900 ± 0.000"
    text = format_table(header, rows).splitlines()
    assert len(text) == 3 and set(text[1]) <= {"-", " "}
