"""A contact sheet of synthetic signatures: per writer, genuine, skilled and random forgeries."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from sigver.io import atomic_output
from sigver.synthetic.generate import DEFAULT_SKILL, draw_genuine, draw_skilled


def preview_sheet(path: str | os.PathLike, writers: int = 4, seed: int = 0,
                  skill: float = DEFAULT_SKILL, genuine: int = 3, skilled: int = 2) -> None:
    """Write a PNG sheet: one row per writer with ``genuine`` genuine signatures,
    ``skilled`` skilled forgeries and one random forgery (another writer's genuine).

    Raw scans are shown as drawn (paper included), each scaled to its cell.
    """
    columns = [("genuine", i) for i in range(genuine)] + \
        [("skilled", i) for i in range(skilled)] + [("random", 0)]
    fig = Figure(figsize=(2.6 * len(columns), 1.2 * writers + 0.4), dpi=110)
    axes = np.asarray(fig.subplots(writers, len(columns), squeeze=False))
    for w in range(writers):
        for c, (kind, i) in enumerate(columns):
            if kind == "genuine":
                image = draw_genuine(seed, w, i)
            elif kind == "skilled":
                image = draw_skilled(seed, w, i, skill)
            else:
                # Someone else's genuine signature: a writer beyond the shown rows.
                image = draw_genuine(seed, writers + w, 0)
            ax = axes[w, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
            ax.set_xticks([])
            ax.set_yticks([])
            if w == 0:
                ax.set_title(f"{kind} {i + 1}" if kind != "random" else "random forgery",
                             fontsize=9)
            if c == 0:
                ax.set_ylabel(f"writer {w + 1:03d}", fontsize=9)
    fig.suptitle(f"sigver synth: seed {seed}, forger skill {skill}", fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
