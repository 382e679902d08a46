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
