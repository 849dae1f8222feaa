"""process_dataset / ``sigver preprocess``: bad input, --skip-bad, workers, the command."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from preprocessing_helpers import drawn_signature, write_tree
from sigver.cli import main as sigver_main
from sigver.cli import run_main
from sigver.datasets.util import read_store
from sigver.errors import SigverError
from sigver.preprocessing.process_dataset import main, process_dataset

FAST = {"canvas_size": (90, 130), "image_size": (34, 48), "workers": 1, "progress": False}


@pytest.fixture
def gpds_tree(tmp_path):
    root = tmp_path / "gpds"
    write_tree(root, ["001/c-001-01.png", "001/c-001-02.png", "001/cf-001-01.png",
                      "002/c-002-01.png", "002/cf-002-01.png"])
    return root


def assert_nothing_written(folder):
    leftovers = [p.name for p in folder.iterdir() if p.name != "gpds"]
    assert leftovers == [], leftovers


def fails(root, match, **kwargs):
    out = root.parent / "out.npz"
    with pytest.raises(SigverError, match=match) as info:
        process_dataset("gpds", root, out, **{**FAST, **kwargs})
    assert "\n" not in str(info.value)
    assert_nothing_written(root.parent)
    return str(info.value)


def test_non_image_file(gpds_tree):
    (gpds_tree / "002" / "c-002-02.png").write_text("this is not a picture")
    message = fails(gpds_tree, "not an image file")
    assert message.startswith(str(gpds_tree / "002" / "c-002-02.png"))


def test_truncated_file(gpds_tree):
    path = gpds_tree / "001" / "c-001-02.png"
    path.write_bytes(path.read_bytes()[:200])
    fails(gpds_tree, r"c-001-02.png: unreadable or truncated image")


def test_empty_file(gpds_tree):
    (gpds_tree / "001" / "c-001-02.png").write_bytes(b"")
    fails(gpds_tree, r"c-001-02.png: not an image file")


def test_blank_page(gpds_tree):
    Image.fromarray(np.full((60, 90), 250, np.uint8)).save(gpds_tree / "002" / "c-002-01.png")
    fails(gpds_tree, r"002/c-002-01.png: the image has no ink \(blank page")


def test_empty_user_folder(gpds_tree):
    (gpds_tree / "003").mkdir()
    fails(gpds_tree, r"gpds/003: no signature files in the user folder")


def test_missing_expected_file(tmp_path):
    root = tmp_path / "gpds"
    write_tree(root, [f"full_org/original_1_{i}.png" for i in range(1, 25)]
               + [f"full_forg/forgeries_1_{i}.png" for i in range(2, 25)], shape=(40, 60))
    out = tmp_path / "out.npz"
    with pytest.raises(SigverError, match=r"full_forg/forgeries_1_1.png: expected file is "
                       "missing; nothing was written"):
        process_dataset("cedar", root, out, **{**FAST, "users": (0, 1)})
    assert_nothing_written(tmp_path)


def test_signature_larger_than_the_canvas(gpds_tree):
    message = fails(gpds_tree, "larger than the canvas 40 x 60", canvas_size=(40, 60))
    assert "--canvas-size" in message and "--crop-oversize" in message
    out = gpds_tree.parent / "cropped.npz"
    summary = process_dataset("gpds", gpds_tree, out, **{**FAST, "canvas_size": (40, 60)},
                              crop_oversize=True)
    assert summary.n_images == 5
    assert any("cropping image" in note for note in summary.notes)


def test_colour_and_16_bit_images_are_converted(gpds_tree):
    gray = drawn_signature(5, (60, 90))
    rgb = np.stack([gray, gray, gray], axis=-1)
    Image.fromarray(rgb).save(gpds_tree / "001" / "c-001-03.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(gpds_tree / "001" / "c-001-04.png")
    Image.fromarray(gray).save(gpds_tree / "001" / "c-001-05.png")
    out = gpds_tree.parent / "out.npz"
    process_dataset("gpds", gpds_tree, out, **FAST)
    store = read_store(out)
    names = store["filenames"].tolist()
    x = {name: store["x"][names.index(f"001/c-001-0{i}.png")] for i, name in
         ((3, "rgb"), (4, "16"), (5, "gray"))}
    np.testing.assert_array_equal(x["rgb"], x["gray"])
    np.testing.assert_array_equal(x["16"], x["gray"])


def test_skip_bad_records_the_skipped_files(gpds_tree, capsys):
    (gpds_tree / "001" / "c-001-02.png").write_text("junk")
    Image.fromarray(np.full((60, 90), 255, np.uint8)).save(gpds_tree / "002" / "cf-002-01.png")
    (gpds_tree / "003").mkdir()
    out = gpds_tree.parent / "out"
    status = main(["--dataset", "gpds", "--path", str(gpds_tree), "--save-path", str(out),
                   "--canvas-size", "90", "130", "--image-size", "34", "48", "--workers", "1",
                   "--skip-bad", "--no-progress"])
    assert status == 0
    store = read_store(out)
    assert store["filenames"].tolist() == ["001/c-001-01.png", "001/cf-001-01.png",
                                           "002/c-002-01.png"]
    assert store["y"].tolist() == [0, 0, 1]
    skipped = dict(zip(store["skipped_files"].tolist(), store["skipped_reasons"].tolist(),
                       strict=True))
    assert set(skipped) == {"003/", "001/c-001-02.png", "002/cf-002-01.png"}
    assert "not an image file" in skipped["001/c-001-02.png"]
    assert "no ink" in skipped["002/cf-002-01.png"]
    printed = capsys.readouterr().out
    assert "skipped 3 bad file(s):" in printed
    assert "001/c-001-02.png: not an image file" in printed
    assert "wrote" in printed and "3 images of 3 users" in printed


def test_output_does_not_depend_on_the_worker_count(gpds_tree):
    stores = []
    for workers in (1, 2):
        out = gpds_tree.parent / f"w{workers}.npz"
        process_dataset("gpds", gpds_tree, out, **{**FAST, "workers": workers})
        stores.append(read_store(out))
    for key in ("x", "y", "yforg", "filenames"):
        np.testing.assert_array_equal(stores[0][key], stores[1][key])


def test_error_in_a_worker_process_writes_nothing(gpds_tree):
    (gpds_tree / "002" / "cf-002-01.png").write_text("junk")
    fails(gpds_tree, r"cf-002-01.png: not an image file", workers=2)


def test_command_errors_are_one_line(gpds_tree, capsys):
    argv = ["--dataset", "gpds", "--path", str(gpds_tree), "--save-path",
            str(gpds_tree.parent / "out.npz"), "--users", "5", "9", "--no-progress"]
    assert run_main(main, argv) == 2
    err = capsys.readouterr().err
    assert err == "sigver: error: --users 5 9 selects no user (the dataset has 2 users: " \
                  "use 0 <= a < b <= 2)\n"
    assert run_main(main, ["--dataset", "gpds", "--path", str(gpds_tree / "nope"),
                           "--save-path", "x.npz"]) == 2
    assert "dataset folder not found (--path)" in capsys.readouterr().err
    assert run_main(main, ["--dataset", "gpds", "--path", str(gpds_tree), "--save-path",
                           str(gpds_tree.parent / "no" / "out.npz")]) == 2
    assert "the output folder does not exist (--save-path)" in capsys.readouterr().err
    assert_nothing_written(gpds_tree.parent)


def test_sigver_preprocess_and_python_m_are_the_same_command(gpds_tree):
    out = gpds_tree.parent / "cli.npz"
    assert sigver_main(["preprocess", "--dataset", "gpds", "--path", str(gpds_tree),
                        "--save-path", str(out), "--canvas-size", "90", "130",
                        "--workers", "1", "--no-progress"]) == 0
    assert read_store(out)["x"].shape == (5, 1, 170, 242)
    result = subprocess.run([sys.executable, "-m", "sigver.preprocessing.process_dataset",
                             "--dataset", "gpds", "--path", str(gpds_tree / "none"),
                             "--save-path", str(out)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("dataset folder not found (--path)")
    assert result.stderr.count("\n") == 1
