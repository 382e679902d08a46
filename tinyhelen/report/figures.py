"""Plots for the report, drawn with matplotlib (Agg) into PNG bytes, with one palette for the whole page.

The palette is defined here once: every plot colours a corpus (leaner, ori, from scratch) and a curriculum
strategy the same way. Colours are the Okabe-Ito colour-blind-safe set. PNGs carry no metadata (no software
version, no date), so the same numbers give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

CORPUS_COLOURS = {"leaner": "#0072B2", "ori": "#D55E00", "scratch": "#999999"}
"""One colour per corpus, used by every plot of the page (and named in the page's legend note)."""
STRATEGY_COLOURS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
"""Curriculum strategies, in the order they appear in metrics/curriculum.json."""
FALLBACK_COLOURS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#CC79A7")


def corpus_colour(corpus: str, index: int = 0) -> str:
    return CORPUS_COLOURS.get(corpus, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])


def strategy_colour(index: int) -> str:
    return STRATEGY_COLOURS[index % len(STRATEGY_COLOURS)]


def pyplot():
    """matplotlib.pyplot on the Agg backend with the page's font sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "svg.hashsalt": "tinyhelen",
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    return plt


def to_png(fig, dpi: int) -> bytes:
    """The figure as PNG bytes without metadata, then closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def grid(count: int, columns: int = 2, width: float = 4.2, height: float = 3.0):
    """A figure with `count` axes in rows of `columns` (unused axes hidden); returns (fig, flat axes list)."""
    plt = pyplot()
    columns = max(1, min(columns, count))
    rows = (count + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def grouped_bars(
    ax,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None], Sequence[float | None] | None]],
) -> None:
    """Bars per category, one per series: (label, colour, values, error half-widths or None)."""
    import numpy as np

    width = 0.8 / max(len(series), 1)
    x = np.arange(len(categories))
    for i, (name, colour, values, errors) in enumerate(series):
        heights = [np.nan if v is None else v for v in values]
        yerr = None if errors is None or all(e is None for e in errors) else [0.0 if e is None else e for e in errors]
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            heights,
            width,
            label=name,
            color=colour,
            yerr=yerr,
            capsize=2 if yerr is not None else 0,
        )
    ax.set_xticks(
        x, categories, rotation=30 if len(categories) > 4 else 0, ha="right" if len(categories) > 4 else "center"
    )
