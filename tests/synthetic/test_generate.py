"""Synthetic signatures: determinism, layout, the real preprocessing, the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sigver.cli.synth import main
from sigver.datasets.util import load_dataset, read_store, read_store_settings
from sigver.preprocessing.normalize import find_ink, preprocess_signature
from sigver.settings import PreprocessingSettings
from sigver.synthetic.generate import (
    CANVAS,
    FORGERS_PER_BLOCK,
    draw_genuine,
    draw_skilled,
    forger_of,
    generate_images,
    generate_store,
    synthesize,
)

SMALL = dict(writers=3, genuine=2, skilled=2, seed=7, progress=False)


@pytest.fixture(scope="module")
def small_store() -> dict:
    return synthesize(**SMALL)


def _folder_bytes(path):
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_store_is_byte_identical_for_one_and_two_workers(tmp_path):
    generate_store(tmp_path / "one.npz", workers=1, **SMALL)
    generate_store(tmp_path / "two.npz", workers=2, **SMALL)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    x, y, yforg, mapping, names = load_dataset(tmp_path / "one.npz")
    assert x.shape == (12, 1, 170, 242) and x.dtype == np.uint8
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert yforg.tolist() == [0, 0, 1, 1] * 3
    assert mapping == {0: 1, 1: 2, 2: 3}
    assert names[2] == "001/cf-001-01.png"
    forger = read_store(tmp_path / "one.npz")["forger"]
    assert forger[yforg == 0].tolist() == [-1] * 6 and (forger[yforg == 1] >= 0).all()


@pytest.mark.parametrize("name", ["store.npz", "store"])
def test_store_records_its_preprocessing_settings(tmp_path, name):
    generate_store(tmp_path / name, writers=1, genuine=1, skilled=1, seed=7, progress=False,
                   canvas=(500, 700), img_size=(100, 140))
    assert read_store_settings(tmp_path / name) == PreprocessingSettings(
        canvas_size=(500, 700), img_size=(100, 140), input_size=(100, 140))
    x, *_ = load_dataset(tmp_path / name)
    assert x.shape == (2, 1, 100, 140)


def test_images_are_byte_identical_for_one_and_two_workers(tmp_path):
    generate_images(tmp_path / "one", workers=1, **SMALL)
    generate_images(tmp_path / "two", workers=2, **SMALL)
    one, two = _folder_bytes(tmp_path / "one"), _folder_bytes(tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:
        if name != "synth.json":  # it names its own folder in the printed command
            assert one[name] == two[name], name


def test_seed_changes_everything_and_writers_do_not_depend_on_the_set_size(small_store):
    other_seed = synthesize(**{**SMALL, "seed": 8})
    assert not np.array_equal(other_seed["x"], small_store["x"])
    fewer = synthesize(**{**SMALL, "writers": 2, "skilled": 1})
    keep = (small_store["y"] < 2) & ~((small_store["yforg"] == 1)
                                      & np.char.endswith(small_store["filenames"], "02.png"))
    np.testing.assert_array_equal(fewer["x"], small_store["x"][keep])


def test_images_layout_and_the_real_preprocessing_agree(tmp_path, small_store):
    info = generate_images(tmp_path / "scans", **SMALL)
    root = tmp_path / "scans"
    assert json.loads((root / "synth.json").read_text()) == info
    assert info["canvas_size"] == list(CANVAS) and info["files"] == 12
    assert "--canvas-size 840 1200" in info["command"]
    for k, name in enumerate(small_store["filenames"]):
        image = np.asarray(Image.open(root / name))
        assert image.dtype == np.uint8 and image.ndim == 2
        rows, cols, _ = find_ink(image)
        # The whole ink box fits the canvas given to process_dataset.
        assert rows.max() - rows.min() < CANVAS[0] and cols.max() - cols.min() < CANVAS[1]
        processed = preprocess_signature(image, CANVAS, input_size=None)
        np.testing.assert_array_equal(processed, small_store["x"][k, 0])
    assert sorted(p.name for p in (root / "002").iterdir()) == [
        "c-002-01.png", "c-002-02.png", "cf-002-01.png", "cf-002-02.png"]


def test_scans_look_like_scans():
    for w in range(6):
        for image in (draw_genuine(3, w, 0), draw_skilled(3, w, 0)):
            height, width = image.shape
            assert 100 <= height <= 700 and 150 <= width <= 1500
            paper = np.median(image)
            assert paper > 200  # light paper ...
            assert image.min() < paper - 80  # ... with clearly darker ink ...
            assert len(np.unique(image)) > 60  # ... anti-aliased, noisy, not binary
            # The page is not uniform: noise everywhere.
            assert image[:10, :10].std() > 0.5


def test_each_forger_imitates_several_writers_and_each_writer_has_several_forgers():
    targets = {}
    for w in range(12):
        for i in range(10):
            targets.setdefault(forger_of(w, i), set()).add(w)
    assert all(len(t) >= 3 for t in targets.values())
    assert len({forger_of(5, i) for i in range(10)}) == FORGERS_PER_BLOCK


def test_cli_writes_store_preview_and_report(tmp_path, capsys):
    out = tmp_path / "s.npz"
    sheet = tmp_path / "sheet.png"
    assert main(["--writers", "2", "--genuine", "3", "--skilled", "1", "--out", str(out),
                 "--preview", str(sheet), "--report", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 8 processed signatures" in printed
    assert "writers with genuine < skilled < random" in printed
    with Image.open(sheet) as img:
        img.verify()
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.width > 1000 and img.height > 200
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 10  # not blank: signatures are drawn on it


@pytest.mark.parametrize("argv, message", [
    ([], "nothing to do"),
    (["--writers", "0", "--out", "x.npz"], "--writers 0: must be at least 1"),
    (["--forger-skill", "2", "--out", "x.npz"],
     "--forger-skill 2.0: the forger skill must be within [0, 1]"),
    (["--seed", "-1", "--out", "x"], "--seed -1: must be >= 0"),
])
def test_cli_user_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys,
                                                        argv, message):
    from sigver.cli import run_main
    monkeypatch.chdir(tmp_path)
    assert run_main(main, [*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_sigver_synth_dispatches_to_the_same_command(tmp_path, capsys):
    from sigver.cli import main as sigver_main
    out = tmp_path / "store"
    assert sigver_main(["synth", "--writers", "1", "--genuine", "1", "--skilled", "1",
                        "--format", "npz", "--out", str(out), "--no-progress"]) == 0
    assert "wrote 2 processed signatures" in capsys.readouterr().out
    assert (out / "x.npy").is_file()  # a non-.npz name gives the folder form


def test_images_never_replace_a_folder_they_did_not_write(tmp_path, capsys):
    from sigver.cli import run_main
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("keep me")
    argv = ["--writers", "1", "--genuine", "1", "--skilled", "0", "--no-progress"]
    assert run_main(main, [*argv, "--out", str(precious)]) == 2
    assert "not an earlier 'sigver synth' output" in capsys.readouterr().err
    assert (precious / "chapter1.tex").read_text() == "keep me"
    again = tmp_path / "scans"
    assert run_main(main, [*argv, "--out", str(again)]) == 0
    assert run_main(main, [*argv, "--out", str(again), "--seed", "3"]) == 0
    assert json.loads((again / "synth.json").read_text())["seed"] == 3
