"""The bad-input catalogue: every command (and the Python API's entry points) refuses a
bad file, output path or number before any work, in one line naming the argument, exit
status 2, nothing written and no database changed.

Each case is an argument list in which ``@KIND`` is a good file of the shared world
(``bad_inputs.build_world``), ``@bad:KIND`` a bad file made fresh in the case's own
folder (``bad_inputs.make_bad``; ``@bad:KIND:NAME`` to choose its name) and ``%NAME`` a
path in that folder that does not exist yet. ``names`` are the strings of which the
error line must hold at least one (the flag, or for positional files the path).
"""

from __future__ import annotations

import shutil

import pytest

from bad_inputs import build_world, make_bad, snapshot
from sigver.cli import main as sigver_main

pytestmark = pytest.mark.slow

WD = ["--exp-users", "0", "3", "--dev-users", "3", "6", "--gen-for-train", "2",
      "--gen-for-test", "2", "--forg-from-dev", "2", "--folds", "1", "--quiet"]
WI = ["--exp-users", "0", "3", "--dev-users", "3", "6", "--gen-for-train", "2",
      "--gen-for-test", "2", "--gen-for-ref", "2", "--folds", "1", "--quiet"]
FIT = ["--gen-for-train", "4", "--gen-for-ref", "3", "--calibration-folds", "2", "--quiet"]
BAD = "@bad:"


def case(command, *argv, names=None):
    """One catalogue entry; ``names`` defaults to the flag right before ``@bad`` / ``%``."""
    argv = [*command.split(), *argv]
    if names is None:
        names = [argv[i - 1] for i, a in enumerate(argv)
                 if (a.startswith((BAD, "%")) and argv[i - 1].startswith("--"))]
    if isinstance(names, str):
        names = [names]
    return pytest.param(argv, tuple(names), id=" ".join(argv).replace("/", "|"))


CATALOGUE = [
    # preprocess
    case("preprocess --dataset folder --save-path %s.npz --no-progress --path",
         "@bad:missing", names="--path"),
    case("preprocess --dataset folder --save-path %s.npz --no-progress --path", "@bad:text",
         names="--path"),
    case("preprocess --dataset folder --path @scans --no-progress --save-path",
         "%nodir/s.npz"),
    case("preprocess --dataset folder --path @scans --no-progress --save-path", "@bad:text"),
    case("preprocess --dataset folder --path @scans --no-progress --save-path",
         "@bad:folder-with-files"),
    case("preprocess --dataset folder --path @scans --save-path %s.npz --workers -1",
         names="--workers"),
    case("preprocess --dataset folder --path @scans --save-path %s.npz --users 3 1",
         names="--users"),
    case("preprocess --dataset folder --path @scans --save-path %s.npz --image-size 0 10",
         names="--image-size"),
    case("preprocess --dataset folder --path @scans --save-path %s.npz --canvas-size -5 10",
         names="--canvas-size"),
    case("preprocess --dataset folder --path @nested --save-path %s.npz --no-progress",
         names="--path"),
    # synth
    case("synth --writers 2 --genuine 2 --skilled 1 --no-progress --out", "%nodir/s.npz"),
    case("synth --writers 2 --genuine 2 --format images --no-progress --out", "@bad:text"),
    case("synth --out %s.npz --writers 0", names="--writers"),
    case("synth --out %s.npz --genuine 0", names="--genuine"),
    case("synth --out %s.npz --skilled -1", names="--skilled"),
    case("synth --out %s.npz --forger-skill 2", names="--forger-skill"),
    case("synth --out %s.npz --workers -1", names="--workers"),
    case("synth --preview", "@bad:folder"),
    case("synth --preview", "%nodir/p.png"),
    # train
    *[case("train --logdir %log --users 0 6 --epochs 1 --dataset-path", BAD + kind)
      for kind in ("text", "truncated-store", "copy-features", "folder", "empty")],
    *[case("train --dataset-path @store --logdir %log --users 0 6 --epochs 1 --checkpoint",
           BAD + kind) for kind in ("text", "copy-features", "copy-classifier")],
    case("train --dataset-path @store --users 0 6 --epochs 1 --logdir", "@bad:text"),
    case("train --dataset-path @store --users 0 6 --epochs 1 --logdir", "%nodir/log"),
    case("train --dataset-path @store --logdir %log --epochs 0", names="--epochs"),
    case("train --dataset-path @store --logdir %log --lr 0", names="--lr"),
    case("train --dataset-path @store --logdir %log --margin -1", names="--margin"),
    case("train --dataset-path @store --logdir %log --loss-type ntxent --temperature 0",
         names="--temperature"),
    case("train --dataset-path @store --logdir %log --batch-size 1", names="--batch-size"),
    case("train --dataset-path @store --logdir %log --users 6 0", names="--users"),
    case("train --dataset-path @store --logdir %log --users 100 200", names="--users"),
    case("train --dataset-path @store --logdir %log --forg --lamb 2", names="--lamb"),
    case("train --dataset-path @store --logdir %log --momentum nan", names="--momentum"),
    # extract
    *[case("extract --data-path @store --out %f.npz --no-progress --model-path", BAD + kind)
      for kind in ("missing", "folder", "empty", "text", "truncated-model", "copy-store",
                   "copy-classifier", "png", "copy-db")],
    *[case("extract --model-path @model --out %f.npz --no-progress --data-path", BAD + kind)
      for kind in ("missing", "empty", "text", "truncated-store", "copy-features",
                   "npz-wrong-keys", "store-bad-shape", "folder", "copy-model")],
    case("extract --model-path @model --data-path @store --out", "%nodir/f.npz"),
    case("extract --model-path @model --data-path @store --out", "@bad:folder:f.npz"),
    case("extract --model-path @model --data-path @store --out", "%f.txt"),
    case("extract --model-path @model --data-path @store --out %f.npz --batch-size 0",
         names="--batch-size"),
    case("extract --model-path @model --data-path @store --out %f.npz --users 5 2",
         names="--users"),
    # wd
    *[case("wd", *WD, "--features-path", BAD + kind)
      for kind in ("missing", "empty", "text", "truncated-features", "copy-store",
                   "features-bad-shape", "folder", "copy-model")],
    case("wd", *WD, "--model-path", "@bad:text", "--data-path", "@store"),
    case("wd", *WD, "--model-path", "@model", "--data-path", "@bad:copy-features"),
    case("wd --features-path @features --svm-c 0", *WD, names="--svm-c"),
    case("wd --features-path @features --svm-gamma -1", *WD, names="--svm-gamma"),
    case("wd --features-path @features --svm-c inf", *WD, names="--svm-c"),
    case("wd --features-path @features --thr nan", *WD, names="--thr"),
    case("wd --features-path @features --folds 0", *WD[:-3], names="--folds"),
    case("wd --features-path @features --gen-for-train 0 --exp-users 0 3 --dev-users 3 6",
         names="--gen-for-train"),
    case("wd --features-path @features --exp-users 3 0 --dev-users 3 6",
         names="--exp-users"),
    case("wd --features-path @features --jobs -1", *WD, names="--jobs"),
    case("wd --features-path @features", *WD, "--save-path", "@bad:folder"),
    case("wd --features-path @features", *WD, "--save-path", "%nodir/r.pickle"),
    case("wd --features-path @features", *WD, "--plots", "@bad:text"),
    case("wd --features-path @features", *WD, "--markdown", "@bad:folder"),
    # wi
    case("wi --features-path @features --svm-c -2", *WI, names="--svm-c"),
    case("wi --features-path @features", *WI, "--gen-for-ref", "0", names="--gen-for-ref"),
    case("wi", *WI, "--features-path", "@bad:copy-classifier"),
    case("wi --features-path @features", *WI, "--save-path", "@bad:folder"),
    # wi fit
    case("wi fit --features-path @features --out %w.skops --svm-c 0", *FIT, names="--svm-c"),
    case("wi fit --features-path @features --out %w.skops --svm-gamma 0", *FIT,
         names="--svm-gamma"),
    case("wi fit --features-path @features --out %w.skops --calibration-folds 1",
         names="--calibration-folds"),
    case("wi fit --features-path @features --out %w.skops --target-far 1.5", *FIT,
         names="--target-far"),
    case("wi fit --features-path @features --out %w.skops --dev-users 4 2", *FIT,
         names="--dev-users"),
    case("wi fit --features-path @features", *FIT, "--out", "@bad:folder"),
    case("wi fit --features-path @features", *FIT, "--out", "%nodir/w.skops"),
    case("wi fit --out %w.skops", *FIT, "--features-path", "@bad:copy-model"),
    case("wi fit --out %w.skops", *FIT, "--features-path", "@bad:truncated-features"),
    # enroll (the world's database must stay unchanged)
    *[case("enroll --user bob --model-path @model @image --db", BAD + kind)
      for kind in ("text", "folder", "sqlite-other", "truncated-db", "png")],
    case("enroll --user bob --model-path @model @image --db", "%nodir/x.db"),
    *[case("enroll --db @db --user anna @image --model-path", BAD + kind)
      for kind in ("text", "copy-classifier", "truncated-model")],
    *[case("enroll --db @db --user anna", BAD + kind, names=["bad"])
      for kind in ("text", "folder", "copy-store", "missing", "empty", "truncated-image")],
    case("enroll --db @db --user anna --batch-size 0 @image", names="--batch-size"),
    case("enroll --db @db --user anna --workers -1 @image", names="--workers"),
    case("enroll --db %x.db --user bob --model-path @model --canvas-size 0 0 @image",
         names="--canvas-size"),
    case("enroll --db @db --user anna --canvas-size 100 100 @image", names="--canvas-size"),
    # verify
    *[case("verify --db @db --user anna @image --classifier", BAD + kind)
      for kind in ("text", "copy-model", "truncated-classifier", "zip", "folder", "missing")],
    case("verify --classifier @classifier --user anna @image --db", "@bad:missing"),
    case("verify --classifier @classifier --user anna @image --db", "@bad:text"),
    case("verify --db @db --classifier @classifier --user nobody @image", names="--user"),
    case("verify --db @db --classifier @classifier --user anna", "@bad:text",
         names=["bad"]),
    case("verify --db @db --classifier @classifier --user anna --workers -1 @image",
         names="--workers"),
    case("verify --db @db --classifier @classifier --user anna @image --model-path",
         "@bad:text"),
    # demo
    case("demo --quick --out", "@bad:text"),
    case("demo --quick --out", "%nodir/demo"),
    case("demo --quick --out %d --first-epochs 0", names="--first-epochs"),
    case("demo --quick --out %d --seed -1", names="--seed"),
    case("demo --quick --out %d --workers -1", names="--workers"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    files = build_world(root)
    nested = root / "nested"
    for group in ("G1", "G2"):
        shutil.copytree(files["scans"], nested / group)
    files["nested"] = nested
    return files


def resolve(argv, world, folder):
    out = []
    for arg in argv:
        if arg.startswith(BAD):
            kind, _, name = arg[len(BAD):].partition(":")
            out.append(str(make_bad(kind, folder, world, name or "bad")))
        elif arg.startswith("@"):
            out.append(str(world[arg[1:]]))
        elif arg.startswith("%"):
            out.append(str(folder / arg[1:]))
        else:
            out.append(arg)
    return out


def run_command(argv, capsys):
    capsys.readouterr()
    try:
        status = sigver_main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize(("argv", "names"), CATALOGUE)
def test_bad_input_is_refused_in_one_line(argv, names, world, tmp_path, capsys):
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    argv = resolve(argv, world, case_dir)
    world_before, case_before = snapshot(world["root"]), snapshot(case_dir)
    status, err = run_command(argv, capsys)
    lines = err.strip("\n").split("\n")
    assert status == 2, err
    assert "Traceback" not in err
    errors = [line for line in lines if line.startswith("sigver: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert any(name in errors[0] for name in names), (names, errors[0])
    assert snapshot(case_dir) == case_before, "a file was left behind"
    assert snapshot(world["root"]) == world_before, "a good file or the database changed"


def test_the_catalogue_covers_every_command():
    commands = {param.values[0][0] for param in CATALOGUE}
    assert commands == {"preprocess", "synth", "train", "extract", "wd", "wi", "enroll",
                        "verify", "demo"}
    assert sum(1 for p in CATALOGUE if p.values[0][:2] == ["wi", "fit"]) >= 5
    assert len(CATALOGUE) >= 60
