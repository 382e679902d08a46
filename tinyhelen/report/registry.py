"""The section registry: name -> reader(Context) -> Section, or None when that stage's metrics are absent.

Add a section by writing a reader (one module per stage) and registering it here under the name that
`report.sections` in params.yaml uses.
"""

from __future__ import annotations

from collections.abc import Callable

from tinyhelen.report.page import Context, Section
from tinyhelen.report.sections.corpus import corpus_section
from tinyhelen.report.sections.curriculum import curriculum_section
from tinyhelen.report.sections.glue import glue_section
from tinyhelen.report.sections.leaner_eval import leaner_eval_section
from tinyhelen.report.sections.pretrain import pretrain_section
from tinyhelen.report.sections.probe import probe_section

SECTION_REGISTRY: dict[str, tuple[Callable[[Context], Section | None], str]] = {
    "corpus": (corpus_section, "stages vocab, clean, simplify, compose, pack (metrics/vocab.json, ...)"),
    "pretrain": (pretrain_section, "stage pretrain (metrics/pretrain/<model>.json and curves)"),
    "glue": (glue_section, "stage glue_summary (metrics/glue_summary.json)"),
    "probe": (probe_section, "stage probe (metrics/probe/<model>.json)"),
    "leaner_eval": (leaner_eval_section, "stages generate/judge (metrics/leaner_eval.json)"),
    "curriculum": (curriculum_section, "stage curriculum (metrics/curriculum.json)"),
}
"""name -> (reader, what it needs: shown in the note when the section is omitted)."""
