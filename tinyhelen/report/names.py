"""Model names across stages: `<arch>-<corpus>` (single seed) or `<arch>-<corpus>-s<seed>` (the seeds grid)."""

from __future__ import annotations

import re
from dataclasses import dataclass

ARCH_ORDER = ("llama", "mamba", "bert", "xlnet")
ARCH_LABELS = {"llama": "Llama", "mamba": "Mamba", "bert": "BERT", "xlnet": "XLNet"}
CORPUS_ORDER = ("scratch", "ori", "leaner")
CORPUS_LABELS = {"scratch": "from scratch", "ori": "ori", "leaner": "leaner"}
_NAME = re.compile(r"^(?P<arch>[a-z0-9]+)-(?P<corpus>[a-z0-9_]+?)(?:-s(?P<seed>\d+))?$")


@dataclass(frozen=True)
class ModelName:
    arch: str
    corpus: str
    seed: int | None

    @property
    def group(self) -> str:
        """The name without the seed: what seeds are pooled over."""
        return f"{self.arch}-{self.corpus}"


def parse_model_name(name: str) -> ModelName | None:
    """`llama-leaner-s65` -> (llama, leaner, 65); `llama-ori` -> (llama, ori, None); None if not a model name."""
    match = _NAME.match(name)
    if not match:
        return None
    seed = match.group("seed")
    return ModelName(match.group("arch"), match.group("corpus"), None if seed is None else int(seed))


def order_key(arch: str, corpus: str = "") -> tuple:
    """Page order: the paper's arch order, then from scratch, ori, leaner; unknown names after, sorted."""
    a = ARCH_ORDER.index(arch) if arch in ARCH_ORDER else len(ARCH_ORDER)
    c = CORPUS_ORDER.index(corpus) if corpus in CORPUS_ORDER else len(CORPUS_ORDER)
    return (a, arch, c, corpus)


def arch_label(arch: str) -> str:
    return ARCH_LABELS.get(arch, arch)


def corpus_label(corpus: str) -> str:
    return CORPUS_LABELS.get(corpus, corpus)
