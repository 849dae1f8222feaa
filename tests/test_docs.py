"""The documentation runs as written: every code block of README.md fenced as shell or
Python is run, in order, in a fresh folder where a quick demo's output is ``demo-out/``
(as after ``make demo``), and every relative link of README.md and docs/*.md points to an
existing file and heading. Python blocks of docs/*.md run too; illustrations are fenced
as ``text`` and are not run."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SHELL = {"bash", "sh", "console"}
PYTHON = {"python", "py"}
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
BLOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}-{self.language}"


def code_blocks(path: Path, languages: set[str]) -> list[Block]:
    """The fenced blocks of ``path`` in one of ``languages``, in document order."""
    text = path.read_text()
    return [Block(path, text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2))
            for m in FENCE.finditer(text) if m.group(1).lower() in languages]


def shell_script(block: Block) -> str:
    """A console block keeps only its ``$ `` commands (and their continuation lines)."""
    if block.language != "console":
        return block.code
    lines, continuing = [], False
    for line in block.code.splitlines():
        if line.startswith("$ "):
            lines.append(line[2:])
        elif continuing:
            lines.append(line)
        else:
            continue
        continuing = line.endswith("\\")
    return "\n".join(lines) + "\n"


RUNNABLE = code_blocks(README, SHELL | PYTHON) + [
    block for doc in DOCS for block in code_blocks(doc, SHELL | PYTHON)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder holding ``demo-out/`` from one ``sigver demo --quick`` run."""
    from sigver.cli.demo import main as demo_main

    folder = tmp_path_factory.mktemp("docs")
    with contextlib.redirect_stdout(io.StringIO()):
        status = demo_main(["--quick", "--out", str(folder / "demo-out"), "--no-progress",
                            "--device", "cpu"])
    assert status == 0
    return folder


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """The environment of a user with the venv activated: ``sigver`` on PATH is the
    venv's console script (a stand-in running this interpreter when it is not
    installed), and the package imported is the one under test."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "sigver").is_file():
        bin_dir = tmp_path_factory.mktemp("bin")
        script = bin_dir / "sigver"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sigver "$@"\n')
        script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) < 150
    languages = {block.language for block in code_blocks(README, SHELL | PYTHON)}
    assert languages & SHELL and languages & PYTHON, "the quick start needs both kinds"


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_code_block_runs_when_pasted(block, workdir, environment):
    if block.language in PYTHON:
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", shell_script(block)]
    run = subprocess.run(command, cwd=workdir, env=environment, capture_output=True,
                         text=True, timeout=BLOCK_TIMEOUT_S)
    assert run.returncode == 0, (f"{block.name} failed ({run.returncode}):\n{block.code}\n"
                                 f"--- stdout\n{run.stdout[-3000:]}\n"
                                 f"--- stderr\n{run.stderr[-3000:]}")


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    text = FENCE.sub("", path.read_text())
    anchors = set()
    for line in text.splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(path):
    text = FENCE.sub("", path.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{path.name}: " + "; ".join(broken)


def test_docs_cover_every_page_of_the_index():
    index = (ROOT / "docs" / "index.md").read_text()
    for doc in DOCS:
        if doc.name != "index.md":
            assert f"({doc.name})" in index, f"docs/index.md does not link {doc.name}"
