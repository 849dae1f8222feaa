"""Dataset readers on layout trees built on the fly, and on the real data in ../shared."""

from pathlib import Path

import numpy as np
import pytest

from preprocessing_helpers import write_tree
from sigver.cli import run_main
from sigver.cli.preprocess import main as preprocess_main
from sigver.datasets import available_datasets
from sigver.datasets.folder import NestedWritersError, fit_canvas
from sigver.datasets.util import load_dataset, read_store, read_store_settings
from sigver.errors import SigverError
from sigver.preprocessing.process_dataset import process_dataset

SMALL = {"canvas_size": (90, 130), "image_size": (34, 48), "workers": 1, "progress": False}


def run(dataset, root, tmp_path, **kwargs):
    out = tmp_path / "store.npz"
    summary = process_dataset(dataset, root, out, **{**SMALL, **kwargs})
    return summary, read_store(out)


def test_available_datasets_lists_every_reader():
    assert set(available_datasets) == {"gpds", "gpds_synth", "mcyt", "cedar", "brazilian",
                                       "brazilian-nosimple", "bhsig260", "folder"}
    assert available_datasets["gpds"].maxsize == (952, 1360)
    assert available_datasets["gpds_synth"].maxsize == (2078, 3307)
    assert available_datasets["mcyt"].maxsize == (600, 850)
    assert available_datasets["cedar"].maxsize == (730, 1042)
    assert available_datasets["brazilian"].maxsize == (700, 1000)


def test_gpds_layout(tmp_path):
    root = tmp_path / "gpds"
    write_tree(root, ["010/c-010-01.png", "010/cf-010-01.png", "002/c-002-02.jpg",
                      "002/c-002-01.jpg", "002/cf-002-01.jpg", "002/cf-002-02.jpg",
                      "001/c-001-01.png", "001/cf-001-01.png", "001/notes.png", "extra/c-1.png"])
    (root / "001" / ".DS_Store").write_bytes(b"\0")
    summary, store = run("gpds", root, tmp_path)
    assert store["user_mapping"] == {0: 1, 1: 2, 2: 10}
    assert store["y"].tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    assert store["yforg"].tolist() == [0, 1, 0, 0, 1, 1, 0, 1]
    assert store["filenames"].tolist() == [
        "001/c-001-01.png", "001/cf-001-01.png", "002/c-002-01.jpg", "002/c-002-02.jpg",
        "002/cf-002-01.jpg", "002/cf-002-02.jpg", "010/c-010-01.png", "010/cf-010-01.png"]
    assert store["x"].shape == (8, 1, 34, 48) and store["x"].max() > 0
    assert any("001/notes.png: ignored" in note for note in summary.notes)
    assert any("user 2: 2 genuine files (the dataset has 24 per user)" in note
               for note in summary.notes)
    assert read_store_settings(tmp_path / "store.npz").canvas_size == (90, 130)
    _, subset = run("gpds", root, tmp_path, users=(1, 3))
    assert subset["user_mapping"] == {0: 2, 1: 10}
    assert subset["y"].tolist() == [0, 0, 0, 0, 1, 1]
    np.testing.assert_array_equal(subset["x"], store["x"][2:])


def test_gpds_layout_with_four_digit_folders(tmp_path):
    root = tmp_path / "synth"
    write_tree(root, ["0001/c-0001-01.png", "0001/cf-0001-01.png", "1000/c-1000-01.png"])
    _, store = run("gpds_synth", root, tmp_path)
    assert store["user_mapping"] == {0: 1, 1: 1000}
    assert store["filenames"].tolist() == ["0001/c-0001-01.png", "0001/cf-0001-01.png",
                                           "1000/c-1000-01.png"]


def test_mcyt_layout_is_case_insensitive(tmp_path):
    root = tmp_path / "mcyt"
    write_tree(root, ["0000/0000v00.bmp", "0000/0000V01.BMP", "0000/0000f00.bmp",
                      "0000/0000F01.bmp", "0000/0003f00.bmp", "0001/0001v00.png",
                      "0001/0001f00.png"])
    summary, store = run("mcyt", root, tmp_path)
    assert any("0000/0003f00.bmp: ignored" in note for note in summary.notes)
    assert store["user_mapping"] == {0: "0000", 1: "0001"}
    assert store["y"].tolist() == [0, 0, 0, 0, 1, 1]
    assert store["yforg"].tolist() == [0, 0, 1, 1, 0, 1]


def test_cedar_layout(tmp_path):
    root = tmp_path / "cedar"
    names = [f"full_org/original_{u}_{i}.png" for u in (1, 2) for i in range(1, 25)]
    names += [f"full_forg/forgeries_{u}_{i}.png" for u in (1, 2) for i in range(1, 25)]
    write_tree(root, names, shape=(40, 60))
    summary, store = run("cedar", root, tmp_path, users=(0, 2))
    assert store["user_mapping"] == {0: 1, 1: 2}
    assert np.bincount(store["y"]).tolist() == [48, 48]
    assert store["yforg"].tolist() == ([0] * 24 + [1] * 24) * 2
    assert store["filenames"][24] == "full_forg/forgeries_1_1.png"
    assert store["filenames"][1] == "full_org/original_1_2.png"
    assert not summary.notes


def brazilian_tree(root, extension="jpg"):
    names = [f"a060_{i:02d}.{extension}" for i in range(1, 61)]
    names += [f"a061_{i:02d}.{extension}" for i in range(1, 41)]
    return write_tree(root, names, shape=(36, 54))


def test_brazilian_layout_with_simple_forgeries(tmp_path):
    root = tmp_path / "brazilian"
    brazilian_tree(root, "png")
    _, store = run("brazilian", root, tmp_path, users=(59, 61), extension="png")
    assert store["user_mapping"] == {0: 60, 1: 61}
    y, yforg = store["y"], store["yforg"]
    assert [int(((y == 0) & (yforg == k)).sum()) for k in (0, 1, 2)] == [40, 10, 10]
    assert [int(((y == 1) & (yforg == k)).sum()) for k in (0, 1, 2)] == [40, 0, 0]
    assert store["filenames"][40] == "a060_51.png"  # skilled (51-60) before simple
    assert store["filenames"][50] == "a060_41.png"


def test_brazilian_without_simple_forgeries(tmp_path):
    root = tmp_path / "brazilian"
    brazilian_tree(root)
    _, store = run("brazilian-nosimple", root, tmp_path, users=(59, 60))
    assert np.bincount(store["yforg"]).tolist() == [40, 10]
    with pytest.raises(SigverError, match="selects no user"):
        run("brazilian-nosimple", root, tmp_path, users=(60, 61))


def test_folder_reader_layouts_and_patterns(tmp_path):
    root = tmp_path / "own"
    write_tree(root, ["anna/genuine/1.png", "anna/genuine/2.png", "anna/forgeries/1.png",
                      "bob/bob_1.png", "bob/forg_1.png", "bob/readme.txt.png",
                      "carl/1.jpg", "carl_forg/1.jpg", "carl_forg/2.jpg"])
    (root / "bob" / "readme.txt").write_text("not a signature")
    summary, store = run("folder", root, tmp_path, canvas_size=None)
    assert store["user_mapping"] == {0: "anna", 1: "bob", 2: "carl"}
    assert store["y"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert store["yforg"].tolist() == [0, 0, 1, 0, 0, 1, 0, 1, 1]
    assert store["filenames"][:3].tolist() == ["anna/genuine/1.png", "anna/genuine/2.png",
                                               "anna/forgeries/1.png"]
    assert any("bob/readme.txt: ignored" in note for note in summary.notes)
    # Canvas: the largest image (60 x 90), grown to the stored aspect ratio 34 x 48.
    assert read_store_settings(tmp_path / "store.npz").canvas_size == (64, 90)
    _, custom = run("folder", root, tmp_path, files=["*.png"], forgery=["forg*"],
                    simple=["*readme*"], forgery_suffix="")
    assert custom["user_mapping"] == {0: "anna", 1: "bob", 2: "carl", 3: "carl_forg"}
    assert custom["y"].tolist() == [0, 0, 0, 1, 1, 1]
    assert custom["yforg"].tolist() == [0, 0, 1, 0, 1, 2]


def test_fit_canvas_keeps_the_stored_aspect_ratio():
    assert fit_canvas((778, 1372), (170, 242)) == (964, 1372)
    assert fit_canvas((900, 300), (170, 242)) == (900, 1282)
    assert fit_canvas((170, 242), (170, 242)) == (170, 242)


def count_sigcomp(root: Path) -> dict[str, tuple[int, int]]:
    counts = {}
    for folder in root.iterdir():
        writer = folder.name.split("_")[0]
        genuine, forged = counts.get(writer, (0, 0))
        n = len(list(folder.glob("*.png")))
        counts[writer] = (genuine, forged + n) if folder.name.endswith("_forg") else (
            genuine + n, forged)
    return counts


def test_sigcomp2011_dutch_with_the_folder_reader(shared_data, tmp_path):
    root = shared_data / "sigcomp2011-dutch"
    expected = count_sigcomp(root)
    reader = available_datasets["folder"](root)
    assert reader.get_user_list() == sorted(expected)
    assert len(expected) == 64
    for writer, (genuine, forged) in expected.items():
        files = reader.user_files(writer)
        assert (len(files.genuine), len(files.skilled)) == (genuine, forged)
        assert all(f.parent.name == f"{writer}_forg" for f in files.skilled)
    # End to end on the first writers (the whole set is covered by the listing above).
    _, store = run("folder", root, tmp_path, users=(0, 3), canvas_size=None,
                   image_size=(170, 242))
    for index, writer in store["user_mapping"].items():
        mine = store["y"] == index
        assert (int((store["yforg"][mine] == 0).sum()),
                int((store["yforg"][mine] == 1).sum())) == expected[writer]
    assert read_store_settings(tmp_path / "store.npz").canvas_size == (964, 1372)
    # Writer ids are the folder names as on disk, leading zeros kept.
    assert store["user_mapping"] == {0: "001", 1: "002", 2: "003"}


def nested_tree(root: Path) -> None:
    write_tree(root, [f"{group}/{writer}/{writer}_{i}.png" for group in ("Bengali", "Hindi")
                      for writer in ("001", "002") for i in (1, 2)])


def test_folder_reader_refuses_groups_of_writer_folders(tmp_path):
    root = tmp_path / "scripts"
    nested_tree(root)
    with pytest.raises(NestedWritersError) as refused:
        available_datasets["folder"](root)
    assert f"give path={root / 'Bengali'}" in str(refused.value)
    message = refused.value.for_command_line()
    assert f"--path {root / 'Bengali'}" in message and "--writer-depth 2" in message
    assert "--dataset bhsig260" in message
    one_group = available_datasets["folder"](root / "Bengali")
    assert one_group.get_user_list() == ["001", "002"]
    every_group = available_datasets["folder"](root, writer_depth=2)
    assert every_group.get_user_list() == ["Bengali/001", "Bengali/002", "Hindi/001",
                                           "Hindi/002"]
    assert len(every_group.user_files("Hindi/002").genuine) == 2
    # One writer with genuine/ and forgeries/ folders is not a group of writers.
    write_tree(tmp_path / "own", ["anna/genuine/1.png", "anna/forgeries/1.png",
                                  "bob/genuine/1.png", "bob/forgeries/1.png"])
    assert available_datasets["folder"](tmp_path / "own").get_user_list() == ["anna", "bob"]


def test_folder_reader_keeps_leading_zeros(tmp_path):
    root = tmp_path / "zeros"
    write_tree(root, ["001/a.png", "002/a.png", "010/a.png", "001_forg/f.png"])
    _, store = run("folder", root, tmp_path, canvas_size=None)
    assert store["user_mapping"] == {0: "001", 1: "002", 2: "010"}
    assert store["yforg"].tolist() == [0, 1, 0, 0]


def test_bhsig260_sample_with_the_folder_reader(shared_data, capsys):
    root = shared_data / "bhsig260-sample"
    out = str(shared_data.parent / "never-written.npz")
    assert run_main(preprocess_main, ["--dataset", "folder", "--path", str(root),
                                      "--save-path", out, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--path {root / 'Bengali'}" in err, err
    assert not Path(out).exists()
    reader = available_datasets["folder"](root / "Bengali")
    assert reader.get_user_list() == ["001", "002"]


def test_bhsig260_sample_end_to_end(shared_data, tmp_path):
    root = shared_data / "bhsig260-sample"
    out = tmp_path / "bhsig"
    summary = process_dataset("bhsig260", root, out, workers=1, progress=False)
    x, y, yforg, mapping, filenames = load_dataset(out)
    assert mapping == {0: "Bengali/001", 1: "Bengali/002", 2: "Hindi/001", 3: "Hindi/002"}
    for index in mapping:
        assert np.bincount(yforg[y == index]).tolist() == [24, 30]
    assert not summary.notes and not summary.skipped
    assert all(f.startswith(mapping[int(u)]) for f, u in zip(filenames, y, strict=True))
    # Bilevel scans: ink is found and centred (the published rule finds none on them).
    assert (x.reshape(len(x), -1).max(axis=1) > 0).all()
