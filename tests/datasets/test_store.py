import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from sigver.datasets.util import (
    get_subset,
    load_dataset,
    read_store,
    remove_forgeries,
    save_dataset,
    select_users,
)
from sigver.errors import ParameterError, SigverError


def make_store(n_users=3, per_user=4, h=10, w=12, seed=0):
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    x = rng.integers(0, 256, size=(n, 1, h, w), dtype=np.uint8)
    y = np.repeat(np.arange(n_users), per_user)
    yforg = np.tile(np.array([0, 0, 1, 2]), n_users)
    mapping = {i: 100 + i for i in range(n_users)}
    filenames = [f"user{u}/img{k}.png" for u in range(n_users) for k in range(per_user)]
    return x, y, yforg, mapping, filenames


@pytest.mark.parametrize("name", ["data.npz", "data_folder"])
def test_round_trip_is_bit_exact(tmp_path, name):
    x, y, yforg, mapping, filenames = make_store()
    path = tmp_path / name
    save_dataset(path, x, y, yforg, mapping, filenames)
    first = load_dataset(path)
    second_path = tmp_path / ("again_" + name)
    save_dataset(second_path, *first)
    second = load_dataset(second_path)
    for loaded in (first, second):
        lx, ly, lyforg, lmap, lfiles = loaded
        assert lx.dtype == np.uint8 and np.array_equal(lx, x)
        assert np.array_equal(ly, y) and np.array_equal(lyforg, yforg)
        assert lmap == mapping
        assert list(lfiles) == filenames


def test_folder_form_is_memory_mapped(tmp_path):
    save_dataset(tmp_path / "store", *make_store())
    x, y, *_ = load_dataset(tmp_path / "store")
    assert isinstance(x, np.memmap)
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        "filenames.npy", "user_mapping.npy", "x.npy", "y.npy", "yforg.npy"]


def test_written_files_hold_no_pickles(tmp_path):
    x, y, yforg, _, filenames = make_store()
    save_dataset(tmp_path / "d.npz", x, y, yforg, ["a", "b", "c"], filenames)
    with np.load(tmp_path / "d.npz", allow_pickle=False) as data:
        assert list(data["user_mapping"]) == ["a", "b", "c"]
        for key in data.files:
            assert data[key].dtype != object


def test_extra_arrays_are_kept(tmp_path):
    save_dataset(tmp_path / "d.npz", *make_store(), skipped_files=np.array(["bad.png"]))
    store = read_store(tmp_path / "d.npz")
    assert list(store["skipped_files"]) == ["bad.png"]


def write_legacy(path, mapping):
    x, y, yforg, _, filenames = make_store()
    np.savez(path, x=x, y=y, yforg=yforg, user_mapping=mapping, filenames=filenames)


def test_legacy_pickled_mapping_is_not_unpickled_by_default(tmp_path):
    path = tmp_path / "legacy.npz"
    write_legacy(path, {0: 7, 1: 8, 2: 9})
    with zipfile.ZipFile(path) as archive:  # the published layout really pickles it
        assert b"\x80" in archive.read("user_mapping.npy")[128:140]
    with pytest.warns(UserWarning, match="--trust-pickles"):
        x, y, yforg, mapping, filenames = load_dataset(path)
    assert mapping == {0: 0, 1: 1, 2: 2}
    assert x.shape == (12, 1, 10, 12)


def test_legacy_pickled_mapping_with_trust(tmp_path):
    path = tmp_path / "legacy.npz"
    write_legacy(path, {0: 7, 1: 8, 2: 9})
    *_, mapping, _ = load_dataset(path, trusted=True)
    assert mapping == {0: 7, 1: 8, 2: 9}


class _Boom:
    def __reduce__(self):
        return (print, ("EXECUTED",))


def test_untrusted_legacy_file_never_runs_its_pickle(tmp_path, capfd):
    path = tmp_path / "evil.npz"
    write_legacy(path, np.array(_Boom(), dtype=object))
    with pytest.warns(UserWarning):
        load_dataset(path)
    assert "EXECUTED" not in capfd.readouterr().out


def corrupt(tmp_path, **changes):
    x, y, yforg, mapping, filenames = make_store()
    arrays = dict(x=x, y=y, yforg=yforg, user_mapping=np.arange(3), filenames=filenames)
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("changes, message", [
    (dict(yforg=None), "missing key.*yforg"),
    (dict(y=np.zeros(5, dtype=int)), "'y' has shape \\(5,\\).*'x' holds 12 rows"),
    (dict(x=np.zeros((12, 10, 12), dtype=np.uint8)),
     "'x' must have 4 dimensions, got shape \\(12, 10, 12\\)"),
    (dict(x=np.zeros((12, 1, 10, 12), dtype=np.float32)), "'x' must be uint8"),
    (dict(yforg=np.full(12, 3)), "'yforg' values must be 0.*found 3"),
])
def test_bad_store_gives_one_line_error_naming_the_file(tmp_path, changes, message):
    path = corrupt(tmp_path, **changes)
    with pytest.raises(SigverError, match=message) as info:
        load_dataset(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_not_a_store(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(SigverError, match="junk.npz: not a readable"):
        load_dataset(path)
    with pytest.raises(SigverError, match="not found"):
        load_dataset(tmp_path / "missing.npz")


def test_save_refuses_invalid_data_and_writes_nothing(tmp_path):
    x, y, yforg, mapping, filenames = make_store()
    with pytest.raises(SigverError):
        save_dataset(tmp_path / "d.npz", x, y[:3], yforg, mapping, filenames)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_save_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    save_dataset(path, *make_store(seed=1))
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(KeyboardInterrupt):
        save_dataset(path, *make_store(seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_folder_overwrite_is_complete(tmp_path):
    save_dataset(tmp_path / "s", *make_store(seed=1))
    save_dataset(tmp_path / "s", *make_store(seed=2))
    assert np.array_equal(load_dataset(tmp_path / "s")[0], make_store(seed=2)[0])
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_subset_helpers():
    x, y, yforg, _, _ = make_store()
    sx, sy, sf = get_subset((x, y, yforg), range(1, 3))
    assert set(sy) == {1, 2} and len(sx) == 8
    gx, gy, gf = remove_forgeries((x, y, yforg))
    assert (gf == 0).all() and len(gx) == 6
    ux, uy, uf = select_users((x, y, yforg), 0, 1)
    assert set(uy) == {0}
    with pytest.raises(ParameterError, match=r"exp_users=\(5, 9\): selects no user.*0..2"):
        select_users((x, y, yforg), 5, 9, param="exp_users")
    with pytest.raises(ParameterError, match=r"users=\(3, 3\): the end must be greater"):
        select_users((x, y, yforg), 3, 3)


@pytest.mark.parametrize("name", ["d.npz", "folder"])
def test_our_files_load_with_unpickling_impossible(tmp_path, monkeypatch, name):
    # numpy unpickles object arrays through pickle.load; make any such call fail loudly,
    # so the test fails if a store we write ever needs unpickling.
    def refuse(*args, **kwargs):
        raise AssertionError("a store written by sigver was unpickled")

    save_dataset(tmp_path / name, *make_store())
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    x, y, yforg, mapping, filenames = load_dataset(tmp_path / name, trusted=True)
    assert mapping == {0: 100, 1: 101, 2: 102} and len(filenames) == len(x)


def test_refusing_unpickling_is_noticed_for_a_legacy_file(tmp_path, monkeypatch):
    # The guard of the test above is real: a published store does go through pickle.load.
    path = tmp_path / "legacy.npz"
    x, y, yforg, _, filenames = make_store()
    np.savez(path, x=x, y=y, yforg=yforg, filenames=filenames,
             user_mapping=np.array({0: "a", 1: "b", 2: "c"}, dtype=object))
    calls = []
    real = pickle.load
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_dataset(path, trusted=True)
    assert calls


def test_load_in_fresh_interpreter_has_no_torch_import(tmp_path):
    save_dataset(tmp_path / "d.npz", *make_store())
    code = ("import sys; from sigver.datasets.util import load_dataset; "
            f"load_dataset(r'{tmp_path / 'd.npz'}'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_outputs_get_umask_permissions(tmp_path):
    import os
    mask = os.umask(0o022)
    try:
        save_dataset(tmp_path / "d.npz", *make_store())
        save_dataset(tmp_path / "folder", *make_store())
    finally:
        os.umask(mask)
    assert (tmp_path / "d.npz").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
