"""The curriculum's growth schedule: plateau trigger, exact levels, nested prefixes, self-loss re-scoring order.

pytest tests/unit/curriculum/test_schedule.py
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tinyhelen.curriculum.measure import interval, per_run, summarise, target_losses
from tinyhelen.curriculum.pool import TokenPool
from tinyhelen.curriculum.schedule import CurriculumSchedule, Growth, ranked
from tinyhelen.tokens.pack import Framing
from tinyhelen.tokens.shards import BatchOrder

EOS = 0


def make_pool(lengths, token_of=None) -> TokenPool:
    """Documents of the given lengths (document end included); document i is made of token `token_of[i]`."""
    token_of = token_of or [1 + i % 5 for i in range(len(lengths))]
    pieces = [np.asarray([token_of[i]] * (n - 1) + [EOS], dtype=np.uint16) for i, n in enumerate(lengths)]
    lengths = np.asarray(lengths, dtype=np.int64)
    return TokenPool(
        [f"doc{i:03d}" for i in range(len(lengths))],
        np.concatenate(pieces),
        np.cumsum(lengths) - lengths,
        lengths,
        Framing(EOS, (), ()),
    )


def val(loss: float) -> dict[str, float]:
    return {"val/loss": loss}


def test_growth_only_on_a_plateau_against_the_all_time_best():
    growth = Growth(levels=20, patience=1, threshold=0.0)
    assert [growth.observe(x) for x in (5.0, 4.0, 3.5, 3.0)] == [False] * 4  # improving: no growth
    assert growth.level == 1
    assert growth.observe(3.0)  # equal is not an improvement (threshold 0, strict)
    assert growth.level == 2
    assert growth.observe(3.2)  # worse than the best (never reset by a growth step)
    assert not growth.observe(2.9)  # a new best
    assert growth.level == 3 and growth.best == 2.9


def test_patience_and_threshold():
    growth = Growth(levels=20, patience=2, threshold=0.1)
    assert not growth.observe(3.0)
    assert not growth.observe(2.95)  # better, but not by more than the threshold: failure 1
    assert growth.observe(2.95)  # failure 2 in a row: grow, counter restarts
    assert not growth.observe(2.99)  # failure 1 again
    assert not growth.observe(2.8)  # improvement resets the counter
    assert not growth.observe(2.8)
    assert growth.level == 2


@pytest.mark.parametrize("total", [1, 7, 20, 37, 1000, 12345])
def test_twenty_exact_levels_and_nothing_after_full(total):
    growth = Growth(levels=20, patience=1, threshold=0.0)
    counts = [growth.count(total)]
    growth.observe(1.0)
    while growth.observe(1.0):
        counts.append(growth.count(total))
    assert len(counts) == 20 and growth.full
    assert counts == [max(1, k * total // 20) for k in range(1, 21)]
    assert counts[-1] == total
    assert all(b >= a for a, b in itertools.pairwise(counts))
    assert not any(growth.observe(1.0) for _ in range(5))  # at 100%: never grows again
    assert growth.count(total) == total


def test_iterative_pools_are_nested_easy_first_prefixes():
    pool = make_pool([8] * 40)
    keys = np.asarray([(i * 7) % 13 for i in range(40)], dtype=float)  # many ties: broken by id
    schedule = CurriculumSchedule(
        "iter-lmloss", pool, seed=1, block_size=4, levels=20, patience=1, threshold=0.0, difficulty=keys
    )
    expected = sorted(range(40), key=lambda i: (keys[i], pool.ids[i]))
    order = BatchOrder(len(schedule.blocks()), 4, schedule.order_seed())
    selections = [schedule.selection().tolist()]
    losses = [3.0, 2.0] + [2.0] * 25
    for step, loss in enumerate(losses, start=1):
        if schedule.update(step, order=order, val=val(loss), model=None):
            selections.append(schedule.selection().tolist())
            order = BatchOrder(len(schedule.blocks()), 4, schedule.order_seed())
    assert len(selections) == 20
    for level, selection in enumerate(selections, start=1):
        assert selection == expected[: level * 40 // 20]
    assert schedule.share() == 1.0
    assert [row["grew"] for row in schedule.history[:3]] == [False, False, True]
    assert schedule.history[-1]["documents"] == 40


def test_ranked_breaks_ties_by_id_not_by_position():
    keys = np.asarray([1.0, 0.5, 1.0, 0.5])
    assert ranked(keys, ["d", "c", "b", "a"]).tolist() == [3, 1, 2, 0]


def test_full_random_repacks_every_epoch_the_first_included():
    pool = make_pool([5] * 12)
    schedule = CurriculumSchedule("full-random", pool, seed=3, block_size=5, levels=20, patience=1, threshold=0.0)
    first = schedule.selection().tolist()
    assert sorted(first) == list(range(12)) and first != list(range(12))  # epoch 0 is already shuffled
    order = BatchOrder(len(schedule.blocks()), 4, schedule.order_seed())
    seen = [first]
    for step in range(1, 10):
        order.next_rows()
        if schedule.update(step, order=order, val=None, model=None):
            seen.append(schedule.selection().tolist())
            order = BatchOrder(len(schedule.blocks()), 4, schedule.order_seed())
    assert len(seen) == 4  # 12 rows, 4 per step: a new packing every 3 steps
    assert all(sorted(s) == list(range(12)) for s in seen) and len({tuple(s) for s in seen}) == 4


class TokenModel(torch.nn.Module):
    """Logits that favour a fixed distribution over tokens: the loss of a document depends on its token."""

    def __init__(self, log_probs: list[float]):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(log_probs))

    def forward(self, input_ids, attention_mask=None):
        class Out:
            pass

        out = Out()
        out.logits = self.logits.expand(*input_ids.shape, -1)
        return out


def test_self_loss_rescores_every_document_with_the_current_model_at_each_growth():
    token_of = [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    pool = make_pool([6, 9, 4, 7, 5, 8, 6, 6, 3, 10], token_of)
    schedule = CurriculumSchedule(
        "iter-selfloss", pool, seed=2, block_size=4, levels=5, patience=1, threshold=0.0, score_batch_size=3
    )
    random_start = schedule.selection().tolist()
    model = TokenModel([0.0, 0.0, 1.0, 3.0, 5.0])  # token 4 is the most likely: its documents are easiest
    order = BatchOrder(len(schedule.blocks()), 2, schedule.order_seed())
    schedule.update(1, order=order, val=val(2.0), model=model)
    assert schedule.scoring_tokens == 0 and schedule.selection().tolist() == random_start
    assert schedule.update(2, order=order, val=val(2.0), model=model)  # plateau: grow and re-score
    assert model.training  # scoring put it back in train mode
    log_probs = torch.log_softmax(model.logits.detach(), -1)
    expected_loss = []
    # every predicted token of document i is its own token, except the end of each document (EOS)
    for i in range(10):
        n = int(pool.lengths[i])
        blocks = [min(4, n - s) for s in range(0, n, 4)]
        targets = [token_of[i]] * (n - 1) + [EOS]
        starts = [0] + list(np.cumsum(blocks)[:-1])
        predicted = [t for s, b in zip(starts, blocks, strict=False) for t in targets[s + 1 : s + b]]
        expected_loss.append(float(sum(-log_probs[t] for t in predicted)) / len(predicted))
    expected = sorted(range(10), key=lambda i: (round(expected_loss[i], 9), pool.ids[i]))
    assert schedule.selection().tolist() == expected[:4]
    assert schedule.scoring_tokens == int(pool.lengths.sum())
    # the next growth re-scores again with the model as it is then (here: a new favourite token)
    with torch.no_grad():
        model.logits.copy_(torch.tensor([0.0, 5.0, 1.0, 0.0, 0.0]))
    assert schedule.update(3, order=order, val=val(2.5), model=model)
    assert schedule.scoring_tokens == 2 * int(pool.lengths.sum())
    assert {token_of[i] for i in schedule.selection()[:3]} == {1}
    assert schedule.seen.sum() >= len(set(expected[:4]) | set(schedule.selection().tolist()))


def test_state_dict_round_trip_restores_the_same_pool():
    pool = make_pool([6] * 30)
    kwargs = {"seed": 5, "block_size": 4, "levels": 20, "patience": 1, "threshold": 0.0}
    schedule = CurriculumSchedule("iter-random", pool, **kwargs)
    order = BatchOrder(len(schedule.blocks()), 4, schedule.order_seed())
    for step, loss in enumerate([3.0, 3.0, 3.0, 2.0, 2.5], start=1):
        schedule.update(step, order=order, val=val(loss), model=None)
    restored = CurriculumSchedule("iter-random", pool, **kwargs)
    restored.load_state_dict(schedule.state_dict())
    assert restored.selection().tolist() == schedule.selection().tolist()
    assert np.array_equal(restored.blocks(), schedule.blocks())
    assert restored.order_seed() == schedule.order_seed() and restored.history == schedule.history


def test_tokens_to_target_against_full_random():
    def curve(losses, shares, scoring=0):
        return [
            {"step": 10 * (i + 1), "tokens": 100 * (i + 1), "loss": x, "seen_share": s, "scoring_tokens": scoring}
            for i, (x, s) in enumerate(zip(losses, shares, strict=False))
        ]

    full = [1.0] * 4
    runs = {
        ("full-random", 1): curve([5, 4, 3, 2], full),
        ("iter-lmloss", 1): curve([4, 3, 2, 1.5], [0.05, 0.1, 0.15, 0.2]),
        ("full-random", 2): curve([5, 4, 3, 2.5], full),
        ("iter-lmloss", 2): curve([5, 5, 5, 5], [0.05] * 4),
    }
    assert target_losses(runs[("full-random", 1)], [0.5, 1.0], 40) == [4.0, 2.0]
    rows = per_run(runs, [0.5, 1.0], 40)
    lm1 = [r for r in rows if r["strategy"] == "iter-lmloss" and r["seed"] == 1]
    assert [r["steps"] for r in lm1] == [10, 30]  # reaches 4.0 at step 10 and 2.0 at step 30
    assert [r["steps_saved_pct"] for r in lm1] == [50.0, 25.0]  # full-random: steps 20 and 40
    assert lm1[1]["data_used_pct"] == 15.0 and lm1[1]["tokens"] == 300
    lm2 = [r for r in rows if r["strategy"] == "iter-lmloss" and r["seed"] == 2]
    assert not any(r["reached"] for r in lm2)
    cell = summarise(rows, 0.95)["iter-lmloss"]["1.0"]
    assert cell["reached"] == 1 and cell["seeds"] == 2 and cell["steps_saved_pct"]["low"] is None
    stats = interval([10.0, 20.0, 30.0], 0.95)
    assert stats["mean"] == 20.0 and stats["low"] == pytest.approx(20 - 4.303 * 10 / 3**0.5, abs=1e-2)


def test_a_first_level_too_short_for_one_row_is_extended_to_fill_one():
    pool = make_pool([3] * 40)  # 5% = 2 documents = 6 tokens
    schedule = CurriculumSchedule("iter-random", pool, seed=1, block_size=10, levels=20, patience=1, threshold=0.0)
    assert len(schedule.selection()) == 4 and schedule.blocks().shape == (1, 10)
