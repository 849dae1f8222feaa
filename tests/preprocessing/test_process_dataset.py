"""process_dataset / ``sigver preprocess``: bad input, --skip-bad, workers, the command."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from preprocessing_helpers import drawn_signature, write_tree
from sigver.cli import main as sigver_main
from sigver.cli import run_main
from sigver.cli.preprocess import build_parser, main
from sigver.datasets.util import load_dataset, read_store, read_store_settings
from sigver.errors import ParameterError, SigverError
from sigver.imageio import read_signature_image
from sigver.preprocessing.normalize import preprocess_signature
from sigver.preprocessing.process_dataset import _pack, _unpack, process_dataset
from sigver.settings import PreprocessingSettings

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
    # The library names its Python parameters; the command its flags.
    assert "canvas_size" in message and "crop_oversize=True" in message
    assert "--" not in message
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
    assert err == "sigver: error: --users 5 9: selects no user (the dataset has 2 users: " \
                  "use 0 <= a < b <= 2)\n"
    assert run_main(main, ["--dataset", "gpds", "--path", str(gpds_tree / "nope"),
                           "--save-path", "x.npz"]) == 2
    assert f"{gpds_tree / 'nope'}: dataset folder not found" in capsys.readouterr().err
    assert run_main(main, ["--dataset", "gpds", "--path", str(gpds_tree), "--save-path",
                           str(gpds_tree.parent / "no" / "out.npz")]) == 2
    assert "out.npz: the output folder does not exist" in capsys.readouterr().err
    assert run_main(main, ["--dataset", "gpds", "--path", str(gpds_tree), "--save-path",
                           str(gpds_tree.parent / "out.npz"), "--canvas-size", "40", "60",
                           "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "larger than the canvas 40 x 60" in err and err.count("\n") == 1
    # ... the command names its flags in the remedy.
    assert "pass a larger --canvas-size, or --crop-oversize to keep its middle" in err
    assert "(--skip-bad continues without it)" in err
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
    assert result.stderr.strip().endswith("dataset folder not found")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("name", ["out.npz", "out_folder"])
def test_the_store_records_the_settings_it_was_processed_with(gpds_tree, name):
    out = gpds_tree.parent / name
    summary = process_dataset("gpds", gpds_tree, out, **{**FAST, "canvas_size": (40, 60)},
                              crop_oversize=True)
    recorded = read_store_settings(out)
    # The canvas actually used, the stored size, the crop that fits it, the oversize rule.
    assert recorded == PreprocessingSettings(canvas_size=(40, 60), img_size=(34, 48),
                                             input_size=(34, 48), crop_oversize=True)
    assert summary.settings == recorded
    # ... and the store still loads as the published 5-tuple.
    x, y, yforg, mapping, filenames = load_dataset(out)
    assert x.shape == (5, 1, 34, 48) and mapping == {0: 1, 1: 2} and len(filenames) == 5


def test_the_recorded_canvas_is_the_dataset_default_and_input_size_is_recorded(gpds_tree):
    out = gpds_tree.parent / "out.npz"
    process_dataset("gpds", gpds_tree, out, image_size=(170, 242), workers=1,
                    progress=False, input_size=(160, 230))
    assert read_store_settings(out) == PreprocessingSettings(
        canvas_size=(952, 1360), img_size=(170, 242), input_size=(160, 230))
    with pytest.raises(ParameterError, match=r"input_size=\(180, 230\)"):
        process_dataset("gpds", gpds_tree, gpds_tree.parent / "big.npz",
                        image_size=(170, 242), workers=1, progress=False,
                        input_size=(180, 230))


def test_dataset_readers_do_not_import_the_preprocessing_package():
    code = ("import sys, sigver.datasets, sigver.datasets.util; "
            "print([m for m in sys.modules if m.startswith('sigver.preprocessing')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_shows_its_own_prog_and_one_default_per_flag():
    for argv, prog in ((["-m", "sigver", "preprocess"], "sigver preprocess"),
                       (["-m", "sigver.preprocessing.process_dataset"],
                        "python -m sigver.preprocessing.process_dataset")):
        result = subprocess.run([sys.executable, *argv, "--help"], capture_output=True,
                                text=True, env={**os.environ, "COLUMNS": "400"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {prog} ")
        flags = [line for line in result.stdout.splitlines()
                 if line.strip().startswith("--")]
        assert len(flags) == 18  # with --writer-depth and --scheduler
        assert all(line.count("default") <= 1 for line in flags), flags
        assert "--image-size H W" in result.stdout and "(default: 170 242)" in result.stdout
    assert all(action.help for action in build_parser()._actions)


def test_worker_processes_give_the_in_process_images_of_real_scans(golden_dir, tmp_path):
    """Paths go to the workers, which read, decode and normalise the scans themselves:
    the stored images are those of reading and normalising here."""
    root = tmp_path / "gpds"
    names = ["001/c-001-01.png", "001/c-001-02.png", "001/cf-001-01.png",
             "002/c-002-01.png", "002/cf-002-01.png"]
    for name, scan in zip(names, sorted(golden_dir.glob("*.png")), strict=True):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scan, root / name)
    out = tmp_path / "w2.npz"
    process_dataset("gpds", root, out, canvas_size=(952, 1360), image_size=(170, 242),
                    workers=2, progress=False)
    store = read_store(out)
    assert len(store["filenames"]) == len(names)
    for image, name in zip(store["x"], store["filenames"], strict=True):
        here = preprocess_signature(read_signature_image(root / str(name)), (952, 1360),
                                    (170, 242), None)
        assert image[0].tobytes() == here.tobytes(), name


def _spots(points, shape=(17, 23)):
    image = np.zeros(shape, dtype=np.uint8)
    for value, (row, col) in enumerate(points, start=1):
        image[row, col] = value
    return image


@pytest.mark.parametrize("image", [
    _spots([]),  # all background
    _spots([(8, 11)]),  # one pixel
    _spots([(0, 0), (16, 22)]),  # opposite corners: the whole image
    _spots([(0, 5), (3, 22)]),  # the top row and the last column
    _spots([(16, 0)]),  # the bottom-left corner
    np.full((5, 7), 255, dtype=np.uint8),
], ids=["blank", "pixel", "corners", "top-right", "bottom-left", "full"])
def test_packed_images_unpack_to_the_same_bytes(image):
    corner, box = _pack(image)
    rows, cols = np.nonzero(image)
    if rows.size:
        assert corner == (rows.min(), cols.min())
        assert box.shape == (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    else:
        assert box.size == 0
    out = np.full(image.shape, 7, dtype=np.uint8)  # stale values are overwritten
    assert _unpack((corner, box), out) is out
    assert out.tobytes() == image.tobytes()


def test_a_normalised_scan_packs_into_its_ink_box(golden_dir):
    scan = read_signature_image(sorted(golden_dir.glob("*.png"))[0])
    image = preprocess_signature(scan, (952, 1360), (170, 242), None)
    (top, left), box = _pack(image)
    assert box.size < image.size * 0.6  # what the worker sends back
    assert box[0].any() and box[-1].any() and box[:, 0].any() and box[:, -1].any()
    assert _unpack(((top, left), box), np.empty_like(image)).tobytes() == image.tobytes()
