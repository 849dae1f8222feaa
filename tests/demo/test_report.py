"""The demo's report writer, stage timer and training-curve figure."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from matplotlib.figure import Figure
from skimage.io import imread

from sigver.demo.plots import plot_processed_examples, plot_training_curves, split_tasks
from sigver.demo.report import Report
from sigver.demo.timer import StageTimer


def _png(path, value=0.3):
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().imshow(np.full((4, 4), value), vmin=0, vmax=1)
    fig.savefig(path, format="png")
    return path


def _sample_report(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    report = Report("Demo <run>")
    report.heading("Results")
    report.paragraph("Model `model_best.pth` & friends.")
    report.table(["model", "EER | user"], [["trained", "3.0 ± 1.0"], ["untrained", "20"]],
                 caption="mean ± std over folds")
    report.figure(_png(figures / "roc.png"), "ROC curves")
    report.code("sigver demo --quick")
    return report


def test_markdown_has_every_block_with_relative_figure_links(tmp_path):
    md_path, _ = _sample_report(tmp_path).write(tmp_path)
    text = md_path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Demo <run>"
    assert "## Results" in lines
    assert "| model | EER \\| user |" in lines  # a pipe inside a cell is escaped
    assert "| trained | 3.0 ± 1.0 |" in lines
    assert "![ROC curves](figures/roc.png)" in lines
    assert "*mean ± std over folds*" in lines
    assert "```\nsigver demo --quick\n```" in text


def test_html_is_self_contained_with_embedded_png(tmp_path):
    _, html_path = _sample_report(tmp_path).write(tmp_path)
    page = html_path.read_text(encoding="utf-8")
    # Every figure is inline: no reference to a file outside the page.
    assert "figures/roc.png" not in page
    assert not re.search(r'src="(?!data:)', page)
    (payload,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(payload) == (tmp_path / "figures" / "roc.png").read_bytes()
    # Text is escaped, and `code` spans become <code> elements.
    assert "<h1>Demo &lt;run&gt;</h1>" in page
    assert "<code>model_best.pth</code> &amp; friends." in page
    assert "<th>EER | user</th>" in page and "<td>3.0 ± 1.0</td>" in page
    assert page.count("<tr>") == 3


def test_missing_figure_writes_nothing(tmp_path):
    report = Report("x")
    report.figure(tmp_path / "absent.png", "absent")
    with pytest.raises(FileNotFoundError, match="absent.png"):
        report.write(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_table_row_width_is_checked():
    with pytest.raises(ValueError, match="2 cells"):
        Report("x").table(["a", "b", "c"], [["1", "2"]])


def test_stage_timer_records_in_order_and_skips_failed_stages(monkeypatch):
    messages: list[str] = []
    ticks = iter([10.0, 10.5, 20.0, 30.0, 32.25])  # start/end of "one", "two", "three"
    monkeypatch.setattr("sigver.demo.timer.time.perf_counter", lambda: next(ticks))
    timer = StageTimer(echo=messages.append)
    with timer.stage("one"):
        pass
    with pytest.raises(RuntimeError), timer.stage("two"):
        raise RuntimeError("boom")
    with timer.stage("three"):
        pass
    assert timer.records == [("one", 0.5), ("three", 2.25)]
    assert timer.total == pytest.approx(2.75)
    header, rows = timer.table()
    assert header == ["stage", "seconds", "share"]
    assert rows == [["one", "0.5", "18 %"], ["three", "2.2", "82 %"], ["total", "2.8", "100 %"]]
    assert messages[:2] == ["[one] ...", "[one] done in 0.5 s"]
    with pytest.raises(ValueError, match="already timed"), timer.stage("one"):
        pass


def _history():
    first = [{"task": "signet", "epoch": e, "train_loss": 3.0 / e, "train_accuracy": 0.2 * e,
              "val_accuracy": 0.15 * e} for e in (1, 2, 3)]
    second = [{"task": "triplet", "epoch": e, "train_loss": 0.1 / e, "train_accuracy": 0.5,
               "val_precision_at_1": 0.6 + 0.1 * e} for e in (1, 2)]
    return first + second


def test_split_tasks_keeps_run_order():
    groups = split_tasks(_history())
    assert [(task, [r["epoch"] for r in records]) for task, records in groups] == [
        ("signet", [1, 2, 3]), ("triplet", [1, 2])]


def test_training_curves_png(tmp_path):
    path = tmp_path / "curves.png"
    plot_training_curves(_history(), path)
    image = imread(path)
    # One column per task: the figure is wider than tall, and it is not blank.
    assert image.shape[1] > image.shape[0]
    assert image[..., :3].std() > 10
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_figure_row_puts_images_side_by_side(tmp_path):
    report = Report("x")
    report.figure_row([_png(tmp_path / "a.png", 0.1), _png(tmp_path / "b.png", 0.9)],
                      "two panels")
    md_path, html_path = report.write(tmp_path)
    assert "![two panels](a.png) ![two panels](b.png)" in md_path.read_text()
    page = html_path.read_text()
    (row,) = re.findall(r'<div class="row">(.*?)</div>', page)
    assert row.count("<img ") == 2 and page.count("<figcaption>") == 1
    with pytest.raises(ValueError, match="at least one"):
        report.figure_row([], "empty")


def test_processed_examples_show_the_requested_users(tmp_path):
    rng = np.random.default_rng(0)
    x = np.zeros((12, 1, 17, 24), dtype=np.uint8)
    x[:, 0, 5:12, 4:20] = rng.integers(100, 255, (12, 7, 16))
    y = np.repeat([0, 1, 2], 4)
    yforg = np.tile([0, 0, 1, 1], 3)
    path = tmp_path / "processed.png"
    plot_processed_examples(x, y, yforg, path, users=(0, 2))
    image = imread(path)[..., :3]
    # Two rows of wide images: wider than tall, dark ink drawn on light background.
    assert image.shape[1] > image.shape[0] and image.mean() > 128 and image.min() < 100
    with pytest.raises(ValueError, match=r"users \[7\]"):
        plot_processed_examples(x, y, yforg, tmp_path / "none.png", users=(7,))
