"""Plots that work offline: a CSV for `dvc plots` plus a PNG drawn with matplotlib.

`dvc plots show` renders HTML whose chart scripts load from a CDN (blank offline), so every plot is also
written as a PNG that any image viewer opens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyhelen.core.io import atomic_open

#: One colour per corpus, used by every plot and the report, so leaner and ori look the same everywhere.
CORPUS_COLORS = {"leaner": "#1b9e77", "ori": "#d95f02", "scratch": "#7570b3", "unigram": "#666666"}


def save_png(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically (no timestamp in the file: the bytes depend on the plot only)
    and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write rows (dicts with the same keys) as CSV, atomically."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with atomic_open(path) as handle:
        handle.write(buffer.getvalue())


def write_bar_plot(
    rows: Sequence[dict[str, Any]], stem: str | Path, *, category: str, series: str, value: str, title: str
) -> tuple[Path, Path]:
    """Write `<stem>.csv` (the rows) and `<stem>.png`: horizontal bars per category, stacked by series.

    Args:
        rows: one dict per (category, series) with a numeric `value`.
        stem: output path without extension.
        category: the key whose values label the bars.
        series: the key whose values stack within a bar (zero-only series are left out of the legend).
        value: the numeric key.
        title: the chart title.

    Returns:
        The CSV and PNG paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = Path(stem)
    csv_path, png_path = stem.with_suffix(".csv"), stem.with_suffix(".png")
    write_csv(rows, csv_path)
    categories = list(dict.fromkeys(row[category] for row in rows))
    names = [
        s for s in dict.fromkeys(row[series] for row in rows) if any(row[value] for row in rows if row[series] == s)
    ]
    table = {(row[category], row[series]): row[value] for row in rows}
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(categories), 4) + 1.5))
    left = [0.0] * len(categories)
    for name in names:
        widths = [table.get((c, name), 0) for c in categories]
        ax.barh(categories, widths, left=left, label=name)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel(value.replace("_", " "))
    ax.set_title(title)
    if names:
        ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    save_png(fig, png_path)
    return csv_path, png_path
