"""The batched scorers against hand-set logits and manual one-position-at-a-time computations."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import torch

from tests.fixtures.glue_models import build_lm, train_tokenizer
from tinyhelen.eval.probe import pair_outcomes
from tinyhelen.eval.scoring import causal_scores, context_token_id, pseudo_log_likelihoods, score_texts

TEXTS = ["the cat made a cake.", "a dog saw the book", "my friend ate some bread. the old man sold a boat.", "yes."]


class HandSetLM(torch.nn.Module):
    """A 'causal LM' whose next-token logits depend only on the current token, from a table set by hand."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.config = SimpleNamespace(model_type="llama")
        self.table = torch.nn.Parameter(table, requires_grad=False)

    def forward(self, input_ids, **_):
        return SimpleNamespace(logits=self.table[input_ids])


@pytest.fixture(scope="module")
def causal_tokenizer():
    return train_tokenizer("causal")


def test_hand_set_model_prefers_the_grammatical_sentence_and_ties_identical_ones(causal_tokenizer):
    tok = causal_tokenizer
    good, bad = "the cat made a cake.", "the cat made a bread."
    ids = [context_token_id(tok)] + tok(good, add_special_tokens=False)["input_ids"]
    table = torch.zeros(len(tok), len(tok))
    for prev, nxt in itertools.pairwise(ids):
        table[prev, nxt] = 4.0  # the good sentence's transitions are likely
    model = HandSetLM(table)
    scores = score_texts(model, tok, [good, bad, good, good], batch_size=2)
    assert scores[0] > scores[1]
    assert pair_outcomes([scores[0], scores[2]], [scores[1], scores[3]], 1e-4).tolist() == [1.0, 0.5]
    # exactly: every transition of `good` has logit 4 against len(tok) - 1 zeros
    step = 4.0 - torch.logsumexp(torch.tensor([4.0] + [0.0] * (len(tok) - 1)), 0).item()
    assert scores[0] == pytest.approx(step * (len(ids) - 1), rel=1e-5)


def test_causal_sum_equals_manual_computation_with_the_first_token_scored(causal_tokenizer):
    tok = causal_tokenizer
    model = build_lm("llama", tok).eval()
    batched = causal_scores(model, tok, TEXTS, batch_size=3)
    for text, score, count in zip(TEXTS, batched.log_probs, batched.tokens, strict=False):
        ids = [context_token_id(tok)] + tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
        manual = sum(logp[i - 1, ids[i]].item() for i in range(1, len(ids)))
        assert score == pytest.approx(manual, abs=1e-4)
        assert count == len(ids) - 1
    # with a prefix, only the continuation is scored
    prefixed = causal_scores(model, tok, ["a cake."], prefixes=["the cat made"], batch_size=2)
    ids_prefix = [context_token_id(tok)] + tok("the cat made", add_special_tokens=False)["input_ids"]
    cont = tok("a cake.", add_special_tokens=False)["input_ids"]
    ids = ids_prefix + cont
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], -1)
    manual = sum(logp[i - 1, ids[i]].item() for i in range(len(ids_prefix), len(ids)))
    assert prefixed.log_probs[0] == pytest.approx(manual, abs=1e-4) and prefixed.tokens == [len(cont)]
    assert prefixed.perplexities()[0] == pytest.approx(float(torch.exp(torch.tensor(-manual / len(cont)))))


def test_bert_pll_equals_a_manual_masked_loop():
    tok = train_tokenizer("bert")
    model = build_lm("bert", tok).eval()
    batched = pseudo_log_likelihoods(model, tok, TEXTS, batch_size=5)
    for text, score in zip(TEXTS, batched, strict=False):
        ids = tok(text)["input_ids"]
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        manual = 0.0
        for position in range(1, len(ids) - 1):
            masked = list(ids)
            masked[position] = tok.mask_token_id
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked])).logits[0, position]
            manual += torch.log_softmax(logits, -1)[ids[position]].item()
        assert score == pytest.approx(manual, abs=1e-4)


def test_xlnet_pll_equals_a_manual_loop_over_target_positions():
    """Left-padded batches of copies vs one copy at a time (no segment ids, as in pre-training)."""
    tok = train_tokenizer("xlnet")
    model = build_lm("xlnet", tok).eval()
    batched = pseudo_log_likelihoods(model, tok, TEXTS, batch_size=7)
    for text, score in zip(TEXTS, batched, strict=False):
        ids = tok(text)["input_ids"]
        assert ids[-2:] == [tok.sep_token_id, tok.cls_token_id]
        manual = 0.0
        for position in range(len(ids) - 2):
            masked = list(ids)
            masked[position] = tok.mask_token_id
            perm = torch.zeros(1, len(ids), len(ids))
            perm[0, :, position] = 1.0  # nobody sees the target token
            target = torch.zeros(1, 1, len(ids))
            target[0, 0, position] = 1.0
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked]), perm_mask=perm, target_mapping=target).logits[0, 0]
            manual += torch.log_softmax(logits, -1)[ids[position]].item()
        assert score == pytest.approx(manual, abs=1e-4)


def test_pipeline_mamba_scores_do_not_depend_on_the_batch(params, causal_tokenizer):
    """The project's Mamba (Bamba blocks) scored right-padded in a batch equals one sentence at a time."""
    from tinyhelen.pretrain.models import build_model

    tok = causal_tokenizer
    torch.manual_seed(0)
    model = build_model("mamba", params.model, len(tok), {"pad": tok.pad_token_id, "eos": tok.eos_token_id}).eval()
    batched = score_texts(model, tok, TEXTS, batch_size=4)
    single = [score_texts(model, tok, [t], batch_size=1)[0] for t in TEXTS]
    assert batched == pytest.approx(single, abs=1e-4)


PAIRS = [
    "the cat made a cake.",
    "the cat made a cakes.",
    "the cats made a cake.",
    "the cat made a cake.",  # a duplicate: one path, one score
    "a dog saw the book",
    "a dog saw the books on the big old table near my friend's house",
]


@pytest.mark.parametrize("tree_nodes", [128, 12])
def test_prefix_tree_scores_equal_row_by_row_scores(causal_tokenizer, monkeypatch, tree_nodes):
    """Llama on prefix trees (one tree, or many small ones with a row longer than a tree) gives each row's
    scores, with and without prompts, as row-by-row batches do."""
    import tinyhelen.eval.scoring as scoring

    monkeypatch.setattr(scoring, "TREE_NODES", tree_nodes)
    tok = causal_tokenizer
    model = build_lm("llama", tok).eval()
    assert scoring.shares_prefixes(model)
    rows = causal_scores(model, tok, PAIRS, batch_size=2, share_prefixes=False)
    trees = causal_scores(model, tok, PAIRS, batch_size=2)
    assert trees.log_probs == pytest.approx(rows.log_probs, abs=1e-4) and trees.tokens == rows.tokens
    assert trees.log_probs[0] == trees.log_probs[3]
    prompts = ["the cat made", "the cat made", "the cats", "the cat made", "a dog", "a dog saw"]
    rows = causal_scores(model, tok, PAIRS, prefixes=prompts, batch_size=3, share_prefixes=False)
    trees = causal_scores(model, tok, PAIRS, prefixes=prompts, batch_size=3, share_prefixes=True)
    assert trees.log_probs == pytest.approx(rows.log_probs, abs=1e-4) and trees.tokens == rows.tokens


def test_mamba_is_scored_row_by_row(params, causal_tokenizer):
    from tinyhelen.eval.scoring import shares_prefixes
    from tinyhelen.pretrain.models import build_model

    tok = causal_tokenizer
    model = build_model("mamba", params.model, len(tok), {"pad": tok.pad_token_id, "eos": tok.eos_token_id})
    assert not shares_prefixes(model)
