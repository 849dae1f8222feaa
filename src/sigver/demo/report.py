"""A small document model written twice: as Markdown (figures as PNG files beside it) and
as one self-contained HTML file (the same PNGs embedded), so the report can be read in a
terminal, on a code-hosting site or in a browser, and mailed as a single file.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sigver.io import atomic_output

_CODE_SPAN = re.compile(r"`([^`]+)`")

_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 70em;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
caption { caption-side: bottom; font-size: .9em; color: #555; padding-top: .3em; }
figure { margin: 1em 0; }
figure .row { display: flex; flex-wrap: wrap; gap: .5em; align-items: flex-start; }
figure img { max-width: 100%; border: 1px solid #eee; }
figure .row img { flex: 1 1 20em; min-width: 0; height: auto; }
figure .row img:only-child { flex: 0 1 auto; }
figcaption { font-size: .9em; color: #555; }
code, pre { background: #f6f6f6; border-radius: 3px; }
code { padding: 0 .2em; }
pre { padding: .6em .8em; overflow-x: auto; }
""".strip()


@dataclass(frozen=True)
class _Heading:
    text: str
    level: int


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str | None


@dataclass(frozen=True)
class _Figure:
    paths: tuple[Path, ...]
    caption: str


@dataclass(frozen=True)
class _Code:
    text: str


_Block = _Heading | _Paragraph | _Table | _Figure | _Code


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _html_inline(text: str) -> str:
    """Escape text for HTML, turning Markdown `code` spans into <code> elements."""
    parts = _CODE_SPAN.split(text)
    # split() with one group alternates plain text and code-span contents.
    return "".join(f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
                   for i, part in enumerate(parts))


@dataclass
class Report:
    """A report built block by block, then written as ``NAME.md`` and ``NAME.html``.

    Text may use Markdown `code` spans, the only inline markup both outputs render.

    Examples
    --------
    >>> report = Report("Demo")
    >>> report.heading("Results")
    >>> report.table(["model", "EER"], [["trained", "3.1"]])
    >>> print(report.to_markdown(Path(".")).splitlines()[0])
    # Demo
    """

    title: str
    blocks: list[_Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        """Add a section heading (level 2 or deeper; level 1 is the title)."""
        if not 2 <= level <= 6:
            raise ValueError(f"heading level must be 2..6, got {level}")
        self.blocks.append(_Heading(text, level))

    def paragraph(self, text: str) -> None:
        """Add a paragraph of text."""
        self.blocks.append(_Paragraph(text))

    def table(self, header: list[str], rows: list[list[str]], caption: str | None = None
              ) -> None:
        """Add a table of already-formatted cells; every row must match the header."""
        for row in rows:
            if len(row) != len(header):
                raise ValueError(f"table row {row!r} has {len(row)} cells, header has "
                                 f"{len(header)}")
        self.blocks.append(_Table(tuple(header), tuple(tuple(r) for r in rows), caption))

    def figure(self, path: str | os.PathLike, caption: str) -> None:
        """Add a PNG figure; it must exist when the report is written."""
        self.blocks.append(_Figure((Path(path),), caption))

    def figure_row(self, paths: list[str | os.PathLike], caption: str) -> None:
        """Add PNG figures shown side by side (on wide screens) under one caption."""
        if not paths:
            raise ValueError("a figure row needs at least one figure")
        self.blocks.append(_Figure(tuple(Path(p) for p in paths), caption))

    def code(self, text: str) -> None:
        """Add a preformatted block (a command, console output)."""
        self.blocks.append(_Code(text))

    def to_markdown(self, base_dir: Path) -> str:
        """The Markdown text; figure links are relative to ``base_dir``."""
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            if isinstance(block, _Heading):
                out += ["#" * block.level + " " + block.text, ""]
            elif isinstance(block, _Paragraph):
                out += [block.text, ""]
            elif isinstance(block, _Table):
                out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
                out.append("|" + "|".join("---" for _ in block.header) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |"
                        for row in block.rows]
                out.append("")
                if block.caption:
                    out += [f"*{block.caption}*", ""]
            elif isinstance(block, _Figure):
                # Images on one line render side by side where the page is wide enough.
                out.append(" ".join(
                    f"![{_md_cell(block.caption)}]"
                    f"({Path(os.path.relpath(path, base_dir)).as_posix()})"
                    for path in block.paths))
                out += ["", f"*{block.caption}*", ""]
            else:
                out += ["```", block.text.rstrip("\n"), "```", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        """One self-contained HTML page: inline style, figures embedded as data URIs."""
        body = [f"<h1>{_html_inline(self.title)}</h1>"]
        for block in self.blocks:
            if isinstance(block, _Heading):
                body.append(f"<h{block.level}>{_html_inline(block.text)}</h{block.level}>")
            elif isinstance(block, _Paragraph):
                body.append(f"<p>{_html_inline(block.text)}</p>")
            elif isinstance(block, _Table):
                rows = ["<tr>" + "".join(f"<th>{_html_inline(h)}</th>" for h in block.header)
                        + "</tr>"]
                rows += ["<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>"
                         for row in block.rows]
                caption = (f"<caption>{_html_inline(block.caption)}</caption>"
                           if block.caption else "")
                body.append("<table>" + caption + "".join(rows) + "</table>")
            elif isinstance(block, _Figure):
                alt = html.escape(block.caption, quote=True)
                images = "".join(
                    f'<img src="data:image/png;base64,'
                    f'{base64.b64encode(path.read_bytes()).decode("ascii")}" alt="{alt}">'
                    for path in block.paths)
                body.append(f'<figure><div class="row">{images}</div>'
                            f"<figcaption>{_html_inline(block.caption)}</figcaption></figure>")
            else:
                body.append(f"<pre>{html.escape(block.text.rstrip())}</pre>")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>\n{_STYLE}\n</style>\n"
                "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")

    def write(self, out_dir: str | os.PathLike, name: str = "report") -> tuple[Path, Path]:
        """Write ``out_dir/NAME.md`` and ``out_dir/NAME.html`` atomically; return both."""
        out_dir = Path(out_dir)
        missing = [str(path) for b in self.blocks if isinstance(b, _Figure)
                   for path in b.paths if not path.is_file()]
        if missing:
            raise FileNotFoundError(2, "report figure is missing", missing[0])
        paths = out_dir / f"{name}.md", out_dir / f"{name}.html"
        for path, text in zip(paths, (self.to_markdown(out_dir), self.to_html()), strict=True):
            with atomic_output(path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        return paths
