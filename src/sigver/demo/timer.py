"""Wall-clock time per pipeline stage, printed as each stage ends and kept for the report."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StageTimer:
    """Times named stages run one after the other.

    Parameters
    ----------
    echo
        Called with a one-line message when a stage starts and ends (``print`` by
        default; ``None`` for silence).

    Examples
    --------
    >>> timer = StageTimer(echo=None)
    >>> with timer.stage("synthesize"):
    ...     pass
    >>> [name for name, _ in timer.records]
    ['synthesize']
    """

    def __init__(self, echo: Callable[[str], None] | None = print) -> None:
        self.echo = echo
        self.records: list[tuple[str, float]] = []

    def _say(self, message: str) -> None:
        if self.echo is not None:
            self.echo(message)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body as stage ``name``; a stage that raises is not recorded."""
        if any(name == done for done, _ in self.records):
            raise ValueError(f"stage {name!r} was already timed")
        self._say(f"[{name}] ...")
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.records.append((name, seconds))
        self._say(f"[{name}] done in {seconds:.1f} s")

    @property
    def total(self) -> float:
        """Seconds spent in all recorded stages."""
        return sum(seconds for _, seconds in self.records)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows (stage, seconds, share of the total), ending with the total."""
        total = self.total
        rows = [[name, f"{seconds:.1f}", f"{100 * seconds / total:.0f} %" if total else "-"]
                for name, seconds in self.records]
        rows.append(["total", f"{total:.1f}", "100 %" if total else "-"])
        return ["stage", "seconds", "share"], rows
