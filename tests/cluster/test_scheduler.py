"""``--scheduler``: preprocess, synth, extract, wd and wi on a Dask cluster give the local
run's output (a ``LocalCluster`` of two worker processes stands for the cluster)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from preprocessing_helpers import write_tree
from sigver.cli import main as sigver_main
from sigver.cluster import use_scheduler
from sigver.datasets.util import read_store
from sigver.errors import SigverError
from sigver.featurelearning.models import SigNet_thin, save_model_file
from sigver.features import load_features, save_features
from sigver.parallel import parallel_map, resolve_workers
from sigver.preprocessing.process_dataset import process_dataset
from sigver.synthetic.features import make_features
from training_helpers import draw_store

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def gpds_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask") / "gpds"
    names = [f"{user:03d}/{kind}-{user:03d}-{i:02d}.png" for user in (1, 2, 3)
             for kind, count in (("c", 4), ("cf", 2)) for i in range(1, count + 1)]
    write_tree(root, names, shape=(70, 110))
    return root


def _same_store(a, b):
    first, second = read_store(a), read_store(b)
    assert set(first) == set(second)
    for key, value in first.items():
        if key == "user_mapping":
            assert value == second[key]
        else:
            np.testing.assert_array_equal(value, second[key], err_msg=key)


def test_preprocess_over_dask_writes_the_local_store(cluster, gpds_tree, tmp_path, capsys):
    common = ["preprocess", "--dataset", "gpds", "--path", str(gpds_tree), "--canvas-size",
              "90", "130", "--image-size", "34", "48", "--no-progress"]
    assert sigver_main([*common, "--save-path", str(tmp_path / "local.npz"),
                        "--workers", "1"]) == 0
    assert sigver_main([*common, "--save-path", str(tmp_path / "dask.npz"),
                        "--scheduler", cluster.scheduler_address]) == 0
    _same_store(tmp_path / "local.npz", tmp_path / "dask.npz")
    assert read_store(tmp_path / "dask.npz")["x"].shape == (18, 1, 34, 48)


def test_the_work_runs_on_every_worker_in_input_order(client):
    with distributed.get_task_stream(client) as stream, use_scheduler(client):
        assert resolve_workers(0) == 2
        squares = parallel_map(np.square, list(range(200)), progress=False)
    assert squares == [i * i for i in range(200)]
    workers = {task["worker"] for task in stream.data if "apply_batch" in task["key"]}
    assert len(workers) == 2


def test_a_bad_file_stops_a_dask_run_with_the_local_message(client, gpds_tree, tmp_path):
    bad = tmp_path / "bad"
    write_tree(bad, ["001/c-001-01.png", "001/cf-001-01.png", "002/c-002-01.png"])
    (bad / "002" / "c-002-01.png").write_bytes(b"not an image")
    messages = []
    for scheduler in (None, client):
        with pytest.raises(SigverError, match="not an image file") as info:
            process_dataset("gpds", bad, tmp_path / "out.npz", canvas_size=(90, 130),
                            image_size=(34, 48), workers=1, progress=False,
                            scheduler=scheduler)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert not (tmp_path / "out.npz").exists()


def test_synth_over_dask_writes_the_local_files(cluster, tmp_path):
    common = ["synth", "--writers", "2", "--genuine", "2", "--skilled", "1", "--seed", "3",
              "--no-progress"]
    for name, extra in (("local", ["--workers", "1"]),
                        ("dask", ["--scheduler", cluster.scheduler_address])):
        assert sigver_main([*common, "--out", str(tmp_path / f"{name}.npz"), *extra]) == 0
        assert sigver_main([*common, "--out", str(tmp_path / name), *extra]) == 0
    _same_store(tmp_path / "local.npz", tmp_path / "dask.npz")
    local = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.png"))
    assert len(local) == 6
    for rel in local:
        assert (tmp_path / "local" / rel).read_bytes() == (tmp_path / "dask" / rel).read_bytes()
    assert ((tmp_path / "local" / "synth.json").read_text()
            == (tmp_path / "dask" / "synth.json").read_text().replace(
                str(tmp_path / "dask"), str(tmp_path / "local")))


@pytest.fixture(scope="module")
def model_and_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extract")
    torch.manual_seed(0)
    save_model_file(folder / "model.pth", SigNet_thin().eval())
    draw_store(folder / "store.npz", n_users=8, n_genuine=8, n_forgeries=3)
    return folder


def test_extract_over_dask_gives_the_local_features(cluster, model_and_store):
    folder = model_and_store
    common = ["extract", "--model-path", str(folder / "model.pth"), "--data-path",
              str(folder / "store.npz"), "--batch-size", "4", "--no-progress"]
    for users in ([], ["--users", "2", "7"]):
        assert sigver_main([*common, *users, "--out", str(folder / "local.npz")]) == 0
        assert sigver_main([*common, *users, "--out", str(folder / "dask.npz"),
                            "--scheduler", cluster.scheduler_address]) == 0
        local, remote = load_features(folder / "local.npz"), load_features(folder / "dask.npz")
        assert len(local.y) == (88 if not users else 55)
        np.testing.assert_array_equal(local.features, remote.features)
        np.testing.assert_array_equal(local.y, remote.y)
        np.testing.assert_array_equal(local.filenames, remote.filenames)
        assert local.model_sha256 == remote.model_sha256
        assert local.settings == remote.settings


def _results(path):
    return json.loads(path.with_suffix(".json").read_text())


def test_a_wd_fold_over_dask_gives_the_local_results(cluster, tmp_path, monkeypatch):
    features = tmp_path / "features.npz"
    save_features(features, make_features(24, 16, 8, dim=32, seed=2))
    common = ["wd", "--features-path", str(features), "--exp-users", "0", "10",
              "--dev-users", "10", "24", "--folds", "1", "--svm-gamma", "0.03",
              "--gen-for-train", "8", "--gen-for-test", "6", "--quiet"]
    for exact in ([], ["--exact"]):
        assert sigver_main([*common, *exact, "--save-path", str(tmp_path / "local.pickle")]) == 0
        # the address from the environment, as DASK_SCHEDULER_ADDRESS
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        assert sigver_main([*common, *exact, "--save-path", str(tmp_path / "dask.pickle")]) == 0
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        assert _results(tmp_path / "local.pickle") == _results(tmp_path / "dask.pickle")


def test_a_wi_fold_extracting_over_dask_gives_the_local_results(cluster, model_and_store,
                                                                 tmp_path):
    folder = model_and_store
    common = ["wi", "--model-path", str(folder / "model.pth"), "--data-path",
              str(folder / "store.npz"), "--batch-size", "8", "--exp-users", "0", "4",
              "--dev-users", "4", "8", "--folds", "1", "--gen-for-train", "4",
              "--gen-for-ref", "4", "--gen-for-test", "3", "--quiet"]
    assert sigver_main([*common, "--save-path", str(tmp_path / "local.pickle")]) == 0
    assert sigver_main([*common, "--save-path", str(tmp_path / "dask.pickle"),
                        "--scheduler", cluster.scheduler_address]) == 0
    assert _results(tmp_path / "local.pickle") == _results(tmp_path / "dask.pickle")


def test_wd_sends_its_per_user_fits_to_the_workers(client):
    from sigver.wd import run

    features = make_features(16, 14, 6, dim=16, seed=5)
    kwargs = dict(exp_users=(0, 6), dev_users=(6, 16), gamma=0.05, num_gen_train=8,
                  num_gen_test=5, folds=1)
    # the exact method spreads its users over the workers; the fast one fits users one
    # after the other on shared kernel rows (docs/protocols-and-metrics.md)
    for method in ("exact",):
        local = run(features, method=method, jobs=1, **kwargs)
        with distributed.get_task_stream(client) as stream, use_scheduler(client):
            remote = run(features, method=method, jobs=0, **kwargs)
        assert any("apply_batch" in task["key"] for task in stream.data), method
        for first, second in zip(local.to_published(), remote.to_published(), strict=True):
            for key, value in first["all_metrics"].items():
                np.testing.assert_array_equal(value, second["all_metrics"][key], err_msg=key)
            for key, value in first["predictions"].items():
                for x, y in zip(value, second["predictions"][key], strict=True):
                    np.testing.assert_array_equal(x, y)
