"""Build the report: run each requested section reader over a metrics folder and render the page.

from tinyhelen.report.build import build_report, write_report
result = build_report(params.report, "metrics", params_path="params.yaml", params=raw_params)
write_report(result, "results/report")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyhelen.core.io import atomic_dir, atomic_open, sha256_file
from tinyhelen.report.config import ReportConfig
from tinyhelen.report.page import Context, Section
from tinyhelen.report.provenance import collect_provenance
from tinyhelen.report.registry import SECTION_REGISTRY
from tinyhelen.report.render import Page, answers, render_html, render_markdown

log = logging.getLogger(__name__)


@dataclass
class ReportResult:
    page: Page
    html: str
    markdown: str
    figures: dict[str, bytes]
    inputs: dict[str, str]
    """Metrics file (as the page names it) -> SHA-256, for meta.json."""

    @property
    def summary(self) -> dict[str, Any]:
        """Headline counts for the tracker (no numbers of other stages are re-logged)."""
        return {
            "sections": len(self.page.sections),
            "omitted": len(self.page.omitted),
            "figures": len(self.figures),
            "answers": sum(1 for a in answers(self.page) if a[2] != "–"),
        }


#: Each headline metrics file's full accounting, written beside the stage's output (paths from the repo root).
DETAILS = {
    "ingest.json": "data/raw/stats.json",
    "clean.json": "data/clean/stats.json",
    "simplify.json": "data/leaner/stats.json",
    "vocab.json": "data/vocab/stats.json",
    "tokenizer.json": "data/tokenizers/stats.json",
    "compose.json": "data/composed/stats.json",
    "pack.json": "data/packed/stats.json",
    "glue_summary.json": "results/glue_summary/summary.json",
    "pretrain_summary.json": "results/pretrain_summary/summary.json",
}


def build_report(
    cfg: ReportConfig,
    metrics_dir: str | Path,
    *,
    params_path: str | Path,
    params: dict,
    label: str | None = None,
    root: str | Path | None = None,
    rows: Iterable[str] | None = None,
) -> ReportResult:
    """Read every requested section's metrics under `metrics_dir` and render the page.

    Args:
        cfg: the `report` params section.
        metrics_dir: the metrics folder (`metrics` in the repo).
        params_path: the params file of this run (compared with its git HEAD copy).
        params: that file's parsed mapping.
        label: how the page names the metrics folder (default: its path as given).
        root: the repo root the stages' full accounting files (`DETAILS`) are read from; None reads headlines only.
        rows: the per-model metrics files the grid names (`tinyhelen.grid.grid_rows`); None reads every file.

    Returns:
        The page, its HTML and Markdown, the figures by file stem and the inputs read.
    """
    metrics_dir = Path(metrics_dir)
    ctx = Context(
        metrics_dir,
        str(label if label is not None else metrics_dir.as_posix()).rstrip("/"),
        cfg.digits,
        cfg.interval,
        cfg.seed_band,
        cfg.dpi,
        {name: Path(root) / path for name, path in DETAILS.items()} if root is not None else {},
        frozenset(rows) if rows is not None else None,
    )
    sections: list[Section] = []
    omitted: list[tuple[str, str]] = []
    for key in cfg.sections:
        reader, needs = SECTION_REGISTRY[key]
        section = reader(ctx)
        if section is None:
            omitted.append((key, f"no metrics from {needs}"))
            log.info("report: section %s omitted (no metrics from %s)", key, needs)
        else:
            sections.append(section)
            log.info("report: section %s: %d tables, %d figures", key, len(section.tables), len(section.figures))
    provenance = collect_provenance(params_path, params)
    page = Page(cfg.title, provenance, sections, omitted, show_all_params=cfg.params == "full")
    figures: dict[str, bytes] = {}
    for section in sections:
        for figure in section.figures:
            if figure.name in figures:
                raise ValueError(f"report: two figures named {figure.name!r}")
            figures[figure.name] = figure.png
    inputs = {}
    for section in sections:
        for name in section.inputs:
            if ctx.label and name.startswith(ctx.label + "/"):
                path = metrics_dir / name.removeprefix(ctx.label + "/")
            else:  # a stage's full accounting beside its output (`DETAILS`), named by its own path
                path = next((p for p in ctx.details.values() if p.as_posix() == name), metrics_dir / name)
            inputs[name] = sha256_file(path)
    return ReportResult(page, render_html(page), render_markdown(page), figures, dict(sorted(inputs.items())))


def write_report(result: ReportResult, out_dir: str | Path) -> Path:
    """Write `index.html`, `README.md` and one `<figure>.png` per plot into `out_dir`, atomically."""
    with atomic_dir(out_dir) as tmp:
        with atomic_open(tmp / "index.html") as handle:
            handle.write(result.html)
        with atomic_open(tmp / "README.md") as handle:
            handle.write(result.markdown)
        for name, png in result.figures.items():
            with atomic_open(tmp / f"{name}.png", "wb") as handle:
                handle.write(png)
    return Path(out_dir)
