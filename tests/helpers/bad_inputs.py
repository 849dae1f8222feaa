"""Bad files of every kind for the bad-input catalogue (``tests/cli/test_bad_inputs.py``)
and a small world of good sigver files to spoil (store, features, model, classifier,
enrollment database, scans)."""

from __future__ import annotations

import os
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def build_world(root: Path) -> dict[str, Path]:
    """Good files: a synthetic store, a model, features, a classifier, a database."""
    import torch

    from sigver.cli import main as sigver_main
    from sigver.featurelearning.models import SigNet_thin, save_model_file
    from sigver.settings import PreprocessingSettings, write_model_settings
    from sigver.synthetic.generate import CANVAS, generate_images, generate_store

    torch.manual_seed(0)
    model = root / "model" / "model.pth"
    model.parent.mkdir()
    save_model_file(model, SigNet_thin())
    write_model_settings(model, PreprocessingSettings(canvas_size=CANVAS))
    store = root / "store.npz"
    generate_store(store, writers=6, genuine=5, skilled=2, seed=11, progress=False)
    features = root / "features.npz"
    assert sigver_main(["extract", "--model-path", str(model), "--data-path", str(store),
                        "--out", str(features), "--no-progress"]) == 0
    classifier = root / "wi.skops"
    assert sigver_main(["wi", "fit", "--features-path", str(features), "--out",
                        str(classifier), "--gen-for-train", "4", "--gen-for-ref", "3",
                        "--calibration-folds", "2", "--quiet"]) == 0
    scans = root / "scans"
    generate_images(scans, writers=2, genuine=4, skilled=1, seed=12, progress=False)
    images = sorted((scans / "001").glob("c-*.png"))
    db = root / "sigver.db"
    assert sigver_main(["enroll", "--db", str(db), "--model-path", str(model), "--user",
                        "anna", *map(str, images[:3])]) == 0
    return {"root": root, "model": model, "store": store, "features": features,
            "classifier": classifier, "scans": scans, "image": images[3], "db": db}


def make_bad(kind: str, folder: Path, world: dict[str, Path], name: str = "bad") -> Path:
    """A bad file (or folder) of ``kind`` named ``name`` in ``folder``.

    Kinds: ``missing`` (a name that does not exist), ``folder``, ``folder-with-files``,
    ``empty``, ``text``, ``png``, ``zip``, ``sqlite-other`` (another application's
    database), ``npz-wrong-keys``, ``store-bad-shape``, ``features-bad-shape``,
    ``truncated-<world key>`` (the first half of a good file) and ``copy-<world key>``
    (a good file of another kind).
    """
    path = folder / name
    if kind == "missing":
        return folder / f"{name}-missing"
    if kind == "folder":
        path.mkdir()
        return path
    if kind == "folder-with-files":
        path.mkdir()
        (path / "notes.txt").write_text("my own files")
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a sigver file\n")
    elif kind == "png":
        Image.new("L", (40, 30), 255).save(path, format="PNG")
    elif kind.startswith("truncated-"):
        good = world[kind.split("-", 1)[1]].read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif kind.startswith("copy-"):
        path.write_bytes(world[kind.split("-", 1)[1]].read_bytes())
    elif kind == "npz-wrong-keys":
        with open(path, "wb") as handle:
            np.savez(handle, a=np.zeros(3), b=np.ones(2))
    elif kind == "store-bad-shape":
        with open(path, "wb") as handle:
            np.savez(handle, x=np.zeros((4, 170, 242), np.uint8), y=np.zeros(4, int),
                     yforg=np.zeros(4, int), user_mapping=np.arange(1),
                     filenames=np.array(["a", "b", "c", "d"]))
    elif kind == "features-bad-shape":
        with open(path, "wb") as handle:
            np.savez(handle, features=np.zeros((4, 8), np.float32), y=np.zeros(3, int),
                     yforg=np.zeros(4, int), filenames=np.array(["a"] * 4),
                     model_sha256=np.asarray("0" * 64))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "hi")
    elif kind == "sqlite-other":
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE pets (name TEXT)")
        connection.close()
    else:
        raise ValueError(kind)
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` with its size and a digest of its content."""
    import hashlib

    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_file():
                out[rel] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).digest())
            else:
                out[rel] = (-1, b"")
    return out
