"""``sigver demo --quick`` end to end (the CI run of the whole pipeline), its report, and
the demo's tables and claims."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from sigver.datasets.util import load_dataset
from sigver.demo.pipeline import (
    QUICK,
    format_table,
    main,
    metrics_table,
    protocol_arguments,
    target_check,
)
from sigver.errors import SigverError
from sigver.features import load_features
from sigver.io import file_sha256

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


def test_quick_demo_commands_in_report_name_real_flags(quick_demo):
    md = (quick_demo[0] / "report.md").read_text(encoding="utf-8")
    block = md[md.index("## 4. Reproduce"):]
    assert "sigver wd --features-path" in block and "sigver wi --features-path" in block
    assert " ".join(protocol_arguments(QUICK, "wd")) in block


def test_demo_help_is_the_same_command_both_ways():
    outputs = [subprocess.run([sys.executable, *prefix, "--help"], capture_output=True,
                              text=True, check=True).stdout
               for prefix in (["-m", "sigver", "demo"], ["-m", "sigver.demo"])]
    assert outputs[0] == outputs[1]
    assert "--quick" in outputs[0] and "--out DIR" in outputs[0]


@pytest.mark.parametrize("argv, message", [
    (["--first-epochs", "0"], "--first-epochs 0"),
    (["--workers", "-1"], "--workers -1"),
])
def test_bad_flags_are_one_line_errors(tmp_path, argv, message):
    with pytest.raises(SigverError, match=message):
        main(["--quick", "--out", str(tmp_path / "out"), *argv])
    assert not (tmp_path / "out").exists()


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
