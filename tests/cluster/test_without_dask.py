"""``--scheduler`` without Dask installed: one line naming the extra, before any work."""

from __future__ import annotations

import sys

import pytest

from sigver.cli import main as sigver_main
from sigver.features import save_features
from sigver.synthetic.features import make_features


@pytest.mark.parametrize("command", ["preprocess", "synth", "extract", "wd", "wi"])
def test_scheduler_without_dask_is_a_one_line_error(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if absent
    features = tmp_path / "features.npz"
    save_features(features, make_features(6, 4, 2, dim=8, seed=0))
    argv = {"preprocess": ["preprocess", "--dataset", "gpds", "--path", str(tmp_path),
                           "--save-path", str(tmp_path / "out.npz")],
            "extract": ["extract", "--model-path", str(tmp_path / "m.pth"), "--data-path",
                        str(tmp_path / "s.npz"), "--out", str(tmp_path / "f.npz")],
            "synth": ["synth", "--out", str(tmp_path / "synth.npz")],
            "wi": ["wi", "--features-path", str(features), "--exp-users", "0", "3",
                   "--dev-users", "3", "6"],
            "wd": ["wd", "--features-path", str(features), "--exp-users", "0", "3",
                   "--dev-users", "3", "6"]}[command]
    assert sigver_main([*argv, "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.endswith("--scheduler: needs Dask, which is not installed: "
                        "pip install 'sigver[dask]'")
