"""The curriculum's data schedules: which documents the one training loop trains on, step by step (spec §7.2).

    schedule = CurriculumSchedule("iter-lmloss", pool, seed=65, block_size=1024, levels=20, patience=1,
                                  threshold=0.0, difficulty=losses)
    train_model(..., data_schedule=schedule)      # the loop calls schedule.update(...) after every step

Strategies:
- `full-repeated`: every document, packed once (seeded document order); the loop's `BatchOrder` reshuffles
  the rows each epoch: plain multi-epoch training.
- `full-random`: every document, reshuffled and repacked at the start of every epoch, the first included
  (the original skipped epoch 0). An epoch ends when the loop's order has used every row once; the batch that
  crosses the end is finished from the old packing, the next one starts the new packing.
- `iter-random`, `iter-sentlen`, `iter-lmloss`: the iterative schedule over one fixed order of the documents
  (seeded random; mean words per sentence ascending; reference-LM loss ascending; ties by id), so every subset
  is a prefix of the next.
- `iter-selfloss`: the same schedule, but at each growth step the current model re-scores every document
  and the subset is the easiest prefix of that new order (not nested); the first subset is the seeded random
  one (an untrained model has no useful order). The scoring forward passes are counted (`scoring_tokens`).

The iterative schedule (`Growth`): level 1 of `levels` at the start; after every evaluation, a loss that is not
below the all-time best by more than `threshold` counts as a failure, and `patience` failures in a row grow
the pool by one level (the counter restarts; the best is never reset). Level k holds floor(k * N / levels)
documents, computed in integers (no floating-point drift); nothing grows past level `levels` (100%). A prefix
too short to fill one row is extended until it fills one (tiny pools only).

Every change repacks the chosen documents and hands the loop new rows with a fresh batch-order seed; the whole
state (level, best, counter, current order, history) is JSON and goes into the loop's checkpoints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.curriculum.config import STRATEGIES
from tinyhelen.curriculum.pool import TokenPool
from tinyhelen.curriculum.scoring import mean_losses, score_documents

ITERATIVE = ("iter-random", "iter-sentlen", "iter-lmloss", "iter-selfloss")
NEEDS_DIFFICULTY = {"iter-sentlen": "words_per_sentence", "iter-lmloss": "loss"}
# Streams of the seeded generators, so the orders of different purposes never coincide.
_BASE_ORDER, _EPOCH_ORDER, _BATCH_ORDER = 0, 1, 2


@dataclass
class Growth:
    """The plateau trigger and the level counter of the iterative schedule."""

    levels: int
    patience: int
    threshold: float
    level: int = 1
    best: float | None = None
    failures: int = 0

    def observe(self, loss: float) -> bool:
        """Take one evaluation's loss; True when the pool grows by one level now."""
        if self.best is None or loss < self.best - self.threshold:
            self.best, self.failures = loss, 0
            return False
        self.failures += 1
        if self.failures < self.patience:
            return False
        self.failures = 0
        if self.level >= self.levels:
            return False
        self.level += 1
        return True

    def count(self, total: int) -> int:
        """Documents at the current level: floor(level * total / levels), at least one."""
        return max(1, self.level * total // self.levels)

    @property
    def full(self) -> bool:
        return self.level >= self.levels


def ranked(keys: np.ndarray, ids: list[str]) -> np.ndarray:
    """Document indices by ascending key, ties broken by id (so the order never depends on file order)."""
    id_rank = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    tie = np.empty(len(ids), dtype=np.int64)
    tie[id_rank] = np.arange(len(ids))
    return np.lexsort((tie, np.asarray(keys, dtype=np.float64)))


def _permutation(seed: int, stream: int, number: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, stream, number]).permutation(size)


class CurriculumSchedule:
    """One strategy's schedule over a `TokenPool` (implements `tinyhelen.pretrain.loop.DataSchedule`)."""

    def __init__(
        self,
        strategy: str,
        pool: TokenPool,
        *,
        seed: int,
        block_size: int,
        levels: int,
        patience: int,
        threshold: float,
        difficulty: np.ndarray | None = None,
        score_batch_size: int = 16,
        bf16: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
        if strategy in NEEDS_DIFFICULTY and difficulty is None:
            raise ValueError(f"{strategy} needs a difficulty key per document ({NEEDS_DIFFICULTY[strategy]})")
        if difficulty is not None and len(difficulty) != len(pool):
            raise ValueError(f"{len(difficulty)} difficulty keys for {len(pool)} documents")
        self.strategy = strategy
        self.pool = pool
        self.seed = seed
        self.block_size = block_size
        self.score_batch_size = score_batch_size
        self.bf16 = bf16
        self.growth = Growth(levels if strategy in ITERATIVE else 1, patience, threshold)
        total = len(pool)
        if strategy in NEEDS_DIFFICULTY:
            self.order = ranked(difficulty, pool.ids)
        else:
            self.order = _permutation(seed, _BASE_ORDER, 0, total)
        self.epoch = 0  # full-random: packings made so far - 1
        self.version = 0  # data changes so far (seeds the loop's batch order)
        self.scoring_tokens = 0  # iter-selfloss: tokens scored by the model being trained
        self.seen = np.zeros(total, dtype=bool)  # documents that have been in the pool
        self.history: list[dict[str, Any]] = []
        self._blocks: np.ndarray | None = None
        self.seen[self.selection()] = True

    # --- what the loop asks -------------------------------------------------------------------------------
    def selection(self) -> np.ndarray:
        """Indices of the documents in the pool now, in packing order."""
        if self.strategy == "full-random":
            return _permutation(self.seed, _EPOCH_ORDER, self.epoch, len(self.pool))
        count = self.growth.count(len(self.pool))
        tokens = np.cumsum(self.pool.lengths[self.order[:count]])
        if tokens[-1] < self.block_size:  # too few tokens for one row: extend the prefix until there are
            more = np.cumsum(self.pool.lengths[self.order])
            count = min(len(self.order), int(np.searchsorted(more, self.block_size)) + 1)
        return self.order[:count]

    def blocks(self) -> np.ndarray:
        if self._blocks is None:
            self._blocks = self.pool.pack(self.selection(), self.block_size)
        return self._blocks

    def order_seed(self) -> int:
        return int(np.random.SeedSequence([self.seed, _BATCH_ORDER, self.version]).generate_state(1)[0])

    def share(self) -> float:
        """Share of the documents in the pool now."""
        return len(self.selection()) / len(self.pool)

    def update(self, step: int, *, order, val: dict[str, float] | None, model) -> bool:
        """After each optimizer step: True when the training rows change (the loop then asks `blocks()`)."""
        changed = False
        if self.strategy == "full-random" and order.epoch >= 1:
            self.epoch += 1
            changed = True
        if val is not None:
            # the row describes the pool that produced this evaluation; growth applies from the next step
            level, documents = self.growth.level, len(self.selection())
            row = {
                "step": step,
                "loss": float(val["val/loss"]),
                "level": level,
                "documents": documents,
                "share": documents / len(self.pool),
                "seen_share": float(self.seen.mean()),
                "scoring_tokens": self.scoring_tokens,
            }
            grew = self.strategy in ITERATIVE and self.growth.observe(float(val["val/loss"]))
            if grew and self.strategy == "iter-selfloss":
                self._rescore(model)
            self.history.append({**row, "grew": grew})
            changed = changed or grew
        if changed:
            self.version += 1
            self._blocks = None
            self.seen[self.selection()] = True
        return changed

    def _rescore(self, model) -> None:
        device = next(model.parameters()).device
        loss_sum, predicted = score_documents(
            model,
            self.pool,
            block_size=self.block_size,
            batch_size=self.score_batch_size,
            device=device,
            bf16=self.bf16,
        )
        self.order = ranked(np.nan_to_num(mean_losses(loss_sum, predicted), nan=np.inf), self.pool.ids)
        self.scoring_tokens += int(self.pool.lengths.sum())

    # --- checkpoints --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "strategy": self.strategy,
            "documents": len(self.pool),
            "growth": asdict(self.growth),
            "epoch": self.epoch,
            "version": self.version,
            "scoring_tokens": self.scoring_tokens,
            "seen": np.flatnonzero(self.seen).tolist(),
            "history": self.history,
        }
        if self.strategy == "iter-selfloss":
            state["order"] = self.order.tolist()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["strategy"] != self.strategy or state["documents"] != len(self.pool):
            raise DataError(
                f"checkpoint schedule is {state['strategy']} over {state['documents']} documents, "
                f"this run is {self.strategy} over {len(self.pool)}"
            )
        self.growth = Growth(**state["growth"])
        self.epoch, self.version = state["epoch"], state["version"]
        self.scoring_tokens = state["scoring_tokens"]
        self.seen = np.zeros(len(self.pool), dtype=bool)
        self.seen[np.asarray(state["seen"], dtype=np.int64)] = True
        self.history = [dict(row) for row in state["history"]]
        if "order" in state:
            self.order = np.asarray(state["order"], dtype=np.int64)
        self._blocks = None
