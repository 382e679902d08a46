"""The model grid: archs x corpora x pretraining seeds, from params alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GridModel:
    """One pretrained model of the grid."""

    arch: str
    corpus: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.arch}-{self.corpus}-s{self.seed}"


def grid_models(archs, corpora, seeds) -> list[GridModel]:
    """Every (arch, corpus, seed) in params order."""
    return [GridModel(a, c, s) for a in archs for c in corpora for s in seeds]


def grid_rows(archs, corpora, seeds, ngrams=()) -> list[str]:
    """The metrics-file stems the grid names: every model `<arch>-<corpus>-s<seed>`, then the random-init baseline
    `<arch>-random` of each arch and the n-gram row `<ngram>-<corpus>` of each corpus (the probe rows). Summaries
    and the report read these, never whatever a metrics folder happens to hold."""
    names = [model.name for model in grid_models(archs, corpora, seeds)]
    names += [f"{arch}-random" for arch in archs]
    names += [f"{ngram}-{corpus}" for ngram in ngrams for corpus in corpora]
    return names
