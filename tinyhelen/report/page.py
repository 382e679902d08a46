"""What a report section is made of: tables whose every cell names its source, figures, notes.

A section reader returns a `Section`; `render.py` turns sections into HTML and Markdown. Every number carries
`Cell.source` (`<metrics file>: <key>`), shown as a tooltip in the HTML and summarised under each table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Cell:
    """One table cell: the text shown and, for a number, where it comes from."""

    text: str
    source: str | None = None
    """`<metrics file>: <key>` (or a short formula over such keys) for a number; None for labels."""


@dataclass(frozen=True)
class Table:
    """A captioned table; `sources` lists the files and key patterns it reads (shown under it)."""

    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    sources: Sequence[str] = ()
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Figure:
    """A PNG plot: embedded in the HTML, written as `<name>.png` beside README.md."""

    name: str
    caption: str
    png: bytes
    sources: Sequence[str] = ()


@dataclass(frozen=True)
class Headline:
    """One line of the page's answer table: a question, what was measured, the result and its source."""

    question: str
    measure: str
    result: str
    source: str


@dataclass
class Section:
    """One report section, built by a reader in `tinyhelen.report.sections`."""

    key: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    """Metrics files the section read (relative to the repo root), for meta.json and the page footer."""


@dataclass(frozen=True)
class Context:
    """What every section reader gets: the metrics folder, how it is named on the page, and number formats."""

    metrics_dir: Path
    label: str
    """The metrics folder as the page names it (e.g. `metrics`), so sources read `metrics/vocab.json: ...`."""
    digits: int
    interval: float
    seed_band: str
    dpi: int
    details: Mapping[str, Path] = field(default_factory=dict)
    """Metrics file -> the stage's full accounting beside its output (`stats.json`, `summary.json`): DVC metrics
    hold headlines only, so a section reads the full file when it exists."""
    rows: frozenset[str] | None = None
    """The per-model metrics files (by stem) that params' grid names (`tinyhelen.grid.grid_rows`); a folder's
    other files (an earlier, wider grid's) are not read. None reads every file."""

    def keeps(self, stem: str) -> bool:
        return self.rows is None or stem in self.rows

    def path(self, relative: str) -> Path:
        detail = self.details.get(relative)
        return detail if detail is not None and detail.is_file() else self.metrics_dir / relative

    def name(self, relative: str) -> str:
        detail = self.details.get(relative)
        if detail is not None and detail.is_file():
            return detail.as_posix()
        return f"{self.label}/{relative}" if self.label else relative


def get(tree: Any, dotted: str | Sequence[str], default: Any = None) -> Any:
    """`tree["a"]["b"]` for `"a.b"` (or a list of keys, for keys that hold dots); `default` when absent."""
    node = tree
    for part in dotted.split(".") if isinstance(dotted, str) else dotted:
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, digits: int) -> str:
    """A number as page text: integers with thousands separators, floats at `digits` decimals, else '–'."""
    if not is_number(value):
        return "–"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def number_cell(value: Any, digits: int, source: str) -> Cell:
    return Cell(fmt(value, digits), source if is_number(value) else None)


def label(text: str) -> Cell:
    return Cell(text)
