"""The whole pipeline end to end on built-in synthetic data (``sigver demo``, whose flags
are in ``cli/demo.py``):

1. draw a synthetic dataset as scans in the ``gpds`` layout (exploitation writers for the
   evaluation, development writers for feature learning; genuine signatures and skilled
   forgeries) and preprocess it with ``process_dataset``, as a user does with real scans;
2. train a multi-task SigNet on the development writers: SigNet-F (users and
   forgeries), then the triplet loss from its best weights;
3. extract features once per model, for the trained model and for a randomly initialised
   one (the baseline that shows what learning bought);
4. run the writer-dependent and writer-independent protocols from those feature files
   (the same code as ``sigver wd`` / ``sigver wi``);
5. write ``DIR/report.md`` and a self-contained ``DIR/report.html``.

Every stage calls the toolkit's own public functions with keyword arguments built from
one ``DemoSettings`` (``sigver.demo.settings``); the report's "reproduce by hand"
commands are spelled from the same objects (``sigver.demo.commands``).
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sigver import __version__
from sigver.datasets.util import load_dataset
from sigver.demo.commands import format_commands, reproduce_commands
from sigver.demo.plots import plot_processed_examples, plot_training_curves
from sigver.demo.report import Report
from sigver.demo.settings import (
    FULL,
    KINDS,
    SELECTION_SEED,
    DemoPaths,
    DemoSettings,
    protocol_kwargs,
    synth_kwargs,
    train_configs,
)
from sigver.demo.timer import StageTimer
from sigver.errors import ParameterError
from sigver.featurelearning.extract import extract_store
from sigver.featurelearning.models import create_model, save_model_file
from sigver.featurelearning.train import train
from sigver.features import save_features
from sigver.io import atomic_output
from sigver.preprocessing.process_dataset import process_dataset
from sigver.protocols.plots import write_plots
from sigver.protocols.results import METRICS, summarize, write_markdown
from sigver.synthetic.generate import generate_images
from sigver.synthetic.preview import preview_sheet
from sigver.wd.protocol import run as run_wd
from sigver.wi.protocol import run as run_wi

Folds = list[dict]

# Scalar metrics shown in the comparison table (key, label, shown in %).
TABLE_METRICS = [(key, label, pct) for key, label, pct in METRICS if key != "global_threshold"]


@dataclass
class DemoResult:
    """What a demo run produced."""

    out_dir: Path
    report_md: Path
    report_html: Path
    runs: dict[str, Folds]          # "WD trained", "WD untrained", "WI trained", ...
    history: list[dict[str, Any]]
    stages: list[tuple[str, float]]
    model_path: Path


def run_demo(out_dir: str | Path, settings: DemoSettings = FULL, *, workers: int | None = None,
             device: str = "auto", progress: bool = True, keep_images: bool = False,
             echo: Callable[[str], None] | None = print) -> DemoResult:
    """Run the whole pipeline into ``out_dir`` and write the report.

    Parameters
    ----------
    out_dir
        Output folder (created if missing); files of an earlier demo are replaced.
    settings
        Dataset sizes and hyper-parameters (``FULL`` or ``QUICK``, or your own).
    workers
        Processes for drawing and preprocessing images (``None`` or 0: every core).
    device
        ``auto``, ``cpu`` or ``cuda`` for training and extraction.
    progress
        Show progress bars.
    keep_images
        Keep the synthetic scans (``out_dir/images``, about 170 MB for the full demo)
        after preprocessing; by default they are deleted once the store is written.
    echo
        Where one-line stage messages go (``None``: silent).
    """
    settings.validate()
    if workers is not None and workers < 0:
        raise ParameterError("workers", workers, "must be >= 0 (0: every core)")
    say = echo or (lambda _message: None)
    paths = DemoPaths(out_dir)
    for folder in (paths.out, paths.results, paths.figures, paths.logs):
        folder.mkdir(parents=True, exist_ok=True)
    timer = StageTimer(echo=echo)
    s = settings

    with timer.stage("synthesize"):
        synth = generate_images(paths.images, workers=workers, progress=progress,
                                **synth_kwargs(s))
        preview_sheet(paths.figures / "examples.png", writers=4, seed=s.seed,
                      skill=s.forger_skill)
    with timer.stage("preprocess"):
        canvas = tuple(synth["canvas_size"])
        summary = process_dataset("gpds", paths.images, paths.store, canvas_size=canvas,
                                  workers=workers, progress=progress)
        say(summary.report().splitlines()[0])
        if not keep_images:
            shutil.rmtree(paths.images)
    with timer.stage("train"):
        first, second = train_configs(s, paths.store, paths.model_dir, device=device,
                                      progress=progress)
        history = train(first).history + train(second).history
    with timer.stage("extract"):
        torch.manual_seed(s.seed)
        save_model_file(paths.untrained, create_model(s.model))
        features_by_kind = {}
        for kind in KINDS:
            features = extract_store(paths.model_file(kind), paths.store, device=device,
                                     progress=progress)
            save_features(paths.features(kind), features)
            features_by_kind[kind] = features
    runs: dict[str, Folds] = {}
    for protocol, run_protocol in (("wd", run_wd), ("wi", run_wi)):
        with timer.stage(protocol.upper()):
            for kind in KINDS:
                name = f"{protocol.upper()} {kind}"
                result = run_protocol(features_by_kind[kind], **protocol_kwargs(s, protocol))
                save = paths.result(protocol, kind)
                result.save(save)
                runs[name] = result.to_published()
                write_markdown(save.with_suffix(".md"), {result.protocol: runs[name]},
                               title=f"{result.protocol} results")
                with atomic_output(paths.logs / f"{protocol}_{kind}.txt") as tmp:
                    tmp.write_text(result.report() + "\n")
                eer = result.summary()["EER_userthresholds"][0]
                say(f"{name}: EER (user thresholds) {100 * eer:.2f} %")
    with timer.stage("report"):
        commands = reproduce_commands(s, paths.out, canvas_size=canvas, device=device)
        report = _build_report(paths, s, synth, summary, history, runs, commands)
    # Written after the last stage so that the table covers every stage; writing the two
    # text files takes milliseconds.
    report.heading("Time per stage")
    report.table(*timer.table(), caption=f"wall-clock seconds on {_machine()}")
    report_md, report_html = report.write(paths.out)
    return DemoResult(out_dir=paths.out, report_md=report_md, report_html=report_html,
                      runs=runs, history=history, stages=list(timer.records),
                      model_path=paths.model)


def _machine() -> str:
    threads = torch.get_num_threads()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    return f"{platform.machine()} {device}, {threads} torch thread(s)"


def _cell(mean: float, std: float, percent: bool) -> str:
    if percent:
        return f"{100 * mean:.2f} ± {100 * std:.2f}"
    return f"{mean:.3f} ± {std:.3f}"


def metrics_table(runs: dict[str, Folds]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per run, each metric as mean ± std over folds."""
    header = ["run"] + [label + (" (%)" if pct else "") for _, label, pct in TABLE_METRICS]
    rows = []
    for name, folds in runs.items():
        summary = summarize(folds)
        rows.append([name] + [_cell(*summary[key], pct) for key, _, pct in TABLE_METRICS])
    return header, rows


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table for the console."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def target_check(runs: dict[str, Folds]) -> list[tuple[str, bool]]:
    """The demo's claims about learning, each with whether it holds in this run."""
    trained, untrained = summarize(runs["WD trained"]), summarize(runs["WD untrained"])
    eer_t, eer_u = trained["EER_userthresholds"][0], untrained["EER_userthresholds"][0]
    far_random = trained["FAR_random"][0]
    return [
        (f"WD EER with user thresholds: trained {100 * eer_t:.2f} % vs untrained "
         f"{100 * eer_u:.2f} % (at most half: {100 * eer_u / 2:.2f} %)", eer_t <= eer_u / 2),
        (f"WD FAR random forgeries of the trained model: {100 * far_random:.2f} % "
         "(below 5 %)", far_random < 0.05),
    ]


def _build_report(paths: DemoPaths, s: DemoSettings, synth: dict[str, Any], summary: Any,
                  history: list[dict[str, Any]], runs: dict[str, Folds],
                  commands: list[list[str]]) -> Report:
    report = Report("sigver demo report")
    writers = s.exp_writers + s.dev_writers
    report.paragraph(
        f"Generated {time.strftime('%Y-%m-%d %H:%M %Z')} by sigver {__version__} "
        f"(Python {platform.python_version()}, torch {torch.__version__}). "
        "Everything below was computed from synthetic signatures drawn by `sigver synth`: "
        "nothing was downloaded.")
    report.heading("What learning bought")
    for claim, holds in target_check(runs):
        report.paragraph(f"{'✔' if holds else '✘'} {claim}")
    header, rows = metrics_table(runs)
    report.table(header, rows, caption=f"mean ± std over {s.folds} folds; "
                 "'trained' = the multi-task SigNet of this run, 'untrained' = the same "
                 "architecture with random weights")
    report.paragraph(
        "FRR: genuine signatures rejected; FAR random / FAR skilled: random / skilled "
        "forgeries accepted (both at the classifiers' threshold 0). EER: the error rate "
        "where FRR equals FAR skilled, with one threshold for everyone (global) or one per "
        "user; mean AUC: area under each user's genuine-vs-skilled ROC curve, averaged.")

    report.heading("1. Data")
    report.paragraph(
        f"{writers} synthetic writers (seed {s.seed}, forger skill {s.forger_skill}): "
        f"users 0-{s.exp_writers - 1} are the exploitation set (evaluated), users "
        f"{s.exp_writers}-{writers - 1} the development set (feature learning, and the "
        f"negatives of the classifiers). Each writer has {s.genuine} genuine signatures and "
        f"{s.skilled} skilled forgeries, written as scans in the `gpds` layout under "
        f"`images/` (deleted afterwards unless `--keep-images`) and preprocessed on a "
        f"{synth['canvas_size'][0]} x {synth['canvas_size'][1]} canvas into `data.npz` "
        f"({summary.n_images} images, {summary.image_size[0]} x {summary.image_size[1]}).")
    report.figure(paths.figures / "examples.png",
                  "Example scans: per writer (row), genuine signatures, skilled forgeries "
                  "(another hand imitating that writer) and a random forgery (someone else's "
                  "genuine signature).")
    x, y, yforg, _, _ = load_dataset(paths.store)
    processed = paths.figures / "processed.png"
    plot_processed_examples(x, y, yforg, processed, users=(0, 1, 2))
    report.figure(processed, "The same writers after preprocessing, as stored and fed to the "
                  "network (centred on the canvas, background removed, resized to "
                  f"{summary.image_size[0]} x {summary.image_size[1]}; shown dark on light).")

    report.heading("2. Feature learning")
    report.paragraph(
        f"`{s.model}` trained on the {s.dev_writers} development writers (90 % train / "
        f"10 % validation), multi-task: first {s.first_epochs} epoch(s) of SigNet-F "
        f"(user classification on genuine signatures plus forgery detection on the "
        f"development writers' skilled forgeries, forgery-loss weight {s.lamb}), then "
        f"{s.triplet_epochs} epoch(s) of triplet loss on genuine signatures (semi-hard "
        f"mining, margin 0.1) from the first task's best weights; SGD with Nesterov "
        f"momentum, learning rate {s.lr}, no decay in so short a run. The model file is "
        f"`model/model_best.pth` (published 3-tuple format).")
    if dataclasses.replace(s, seed=FULL.seed) == FULL and s.seed != SELECTION_SEED:
        report.paragraph(
            f"These training settings were chosen on a synthetic store drawn with seed "
            f"{SELECTION_SEED} (other writers), never on the writers evaluated here: "
            "`benchmarks/demo_selection.py`, whose table is in `docs/demo.md`.")
    curves = paths.figures / "training_curves.png"
    plot_training_curves(history, curves)
    report.figure(curves, "Training curves: loss per epoch (top) and accuracy (bottom) on "
                  "training batches and on the validation split.")

    report.heading("3. Verification results")
    report.paragraph(
        f"Features were extracted once per model (`features_trained.npz`, "
        f"`features_untrained.npz`); each protocol ran {s.folds} folds from those files. "
        f"Writer-dependent (WD): one RBF SVM per user, {s.gen_for_train} genuine "
        f"signatures against {s.forg_from_dev} random genuines of each development writer. "
        f"Writer-independent (WI): one dichotomy SVM trained on development writers, each "
        f"questioned signature compared with {s.gen_for_ref} references (max fusion). "
        f"Per user, {s.gen_for_test} genuine, {s.gen_for_test} skilled and "
        f"{s.gen_for_test} random forgeries are tested. Per-fold results are in "
        f"`results/` (pickle as the published tooling writes, and JSON).")
    for protocol in ("WD", "WI"):
        pair = {kind: runs[f"{protocol} {kind}"] for kind in ("trained", "untrained")}
        folder = paths.figures / protocol.lower()
        written = {path.name: path for path in write_plots(folder, pair)}
        report.heading(f"{protocol}: curves and scores", level=3)
        report.figure_row([written["roc.png"], written["det.png"]],
                          f"{protocol} ROC (left) and DET (right) curves, scores pooled over "
                          "folds: genuine signatures against skilled forgeries (solid) and "
                          "random forgeries (dashed), trained vs untrained features.")
        report.figure_row([written["scores_trained.png"], written["scores_untrained.png"]],
                          f"{protocol} score histograms of the trained (left) and untrained "
                          "(right) model: genuine signatures, random and skilled forgeries, "
                          "with the EER threshold.")

    report.heading("4. Reproduce any stage by hand")
    report.paragraph("The demo called the toolkit's own functions; these commands, spelled "
                     "from the same settings objects, make the same calls stage by stage "
                     "for the trained model:")
    report.code(format_commands(commands))
    return report
