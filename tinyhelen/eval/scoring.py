"""Batched sentence scorers: log-probability of a list of texts under a model (higher = more probable).

    kind = scorer_kind(model)                        # causal | mlm | plm, from the model's config
    scores = score_texts(model, tokenizer, texts, batch_size=64)       # one float per text (nats)
    scores = causal_scores(model, tokenizer, answers, prefixes=questions).log_probs   # continuation given a prompt

- causal (Llama, Mamba/Bamba): the summed log-probability of the text's tokens given the document-start
  context the model was trained with: in a packed stream every document follows the previous one's end token
  (`</s>`; the tokenizer's eos, else its bos), so that token is the context and the FIRST token is scored too.
  With `prefixes`, the prefix (after the context) is context as well and only the text is scored.
  Rows are right-padded: a causal model's outputs at real positions never depend on later padding.
  Llama (`PREFIX_TREE_TYPES`) shares prefixes: the rows, sorted, are merged into prefix trees (tries) of at most
  `TREE_NODES` tokens, and one forward pass scores a tree, each token attending to its ancestors only (a 4-D
  attention mask) at its depth as position id, so a token's output is the one it has in its own row. Each shared
  prefix is computed once: all of Zorro (1.11M row tokens) needs 0.50M tree tokens, 2.2x fewer FLOPs. Mamba's
  recurrence cannot take a tree and is scored row by row.
- mlm (BERT): pseudo-log-likelihood, each non-special token replaced by [MASK] in turn and scored from the
  rest; the masked copies of many texts share one forward pass (`batch_size` copies per pass).
- plm (XLNet): pseudo-log-likelihood through the permutation mask: for target position i, `perm_mask[:, :, i]
  = 1` hides token i from every position and `target_mapping` asks for position i only, so it is predicted
  from all the other tokens (the input there is <mask>, as in pre-training).
- `NGramModel`: an add-k unigram or bigram model of words, the reference that needs no neural model.

Texts are framed by the tokenizer as in pre-training (BERT `[CLS] ... [SEP]`, XLNet `... <sep> <cls>`), and, as
in pre-training, no segment ids are passed.
Every scorer sorts texts by length so a batch holds similar lengths, and returns scores in input order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from tinyhelen.core.errors import DataError

CAUSAL_TYPES = ("llama", "bamba", "mamba", "mamba2", "gpt2")
#: Causal models whose attention takes a custom 4-D mask and explicit position ids (prefix-tree scoring).
PREFIX_TREE_TYPES = ("llama",)
#: Tokens per prefix tree (a row longer than this gets a tree of its own). The masked attention of a tree costs
#: its size squared: at 128 it is ~5% of the 14M Llama's FLOPs and keeps 97% of the sharing that whole-Zorro
#: trees would (0.50M vs 0.47M tokens; 256: 0.48M at ~9%).
TREE_NODES = 128
MLM_TYPES = ("bert",)
PLM_TYPES = ("xlnet",)

#: Words for the n-gram reference and the vocabulary filter: lower-cased runs of word characters, and
#: single punctuation marks ("the dog 's bone ." and "The dog's bone." give the same words).
_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """The words of a text, as the n-gram model and the vocabulary filter count them."""
    return _WORD.findall(text.lower())


def scorer_kind(model) -> str:
    """`causal`, `mlm` or `plm` from the model's `config.model_type`."""
    model_type = model.config.model_type
    if model_type in CAUSAL_TYPES:
        return "causal"
    if model_type in MLM_TYPES:
        return "mlm"
    if model_type in PLM_TYPES:
        return "plm"
    raise DataError(f"no minimal-pair scorer for model type {model_type!r}")


def context_token_id(tokenizer) -> int:
    """The document-start context of a causal model: the end token that precedes every packed document."""
    for token_id in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if token_id is not None:
            return int(token_id)
    raise DataError("the causal tokenizer has neither an eos nor a bos token to open a document with")


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length (stable), cut into batches of `batch_size`."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _pad(rows: list[list[int]], pad_id: int, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, tokens in enumerate(rows):
        start = width - len(tokens) if left else 0
        ids[row, start : start + len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, start : start + len(tokens)] = 1
    return ids, mask


def _device(model) -> torch.device:
    return next(model.parameters()).device


@dataclass
class CausalScores:
    """Per text: summed log-probability (nats) and the number of scored tokens (for perplexity)."""

    log_probs: list[float]
    tokens: list[int]

    def perplexities(self) -> list[float]:
        return [math.exp(-lp / n) if n else float("nan") for lp, n in zip(self.log_probs, self.tokens, strict=False)]


@dataclass
class PrefixTree:
    """Rows merged on their shared prefixes: per node its token, parent node (-1 for a root) and depth; per row
    the nodes of its path (node k holds the row's token k)."""

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    paths: dict[int, list[int]] = field(default_factory=dict)

    def ancestor_mask(self, width: int) -> np.ndarray:
        """(width, width) bool: node i sees node j when j is i or one of its ancestors; padding sees itself."""
        mask = np.eye(width, dtype=bool)
        for node, parent in enumerate(self.parents):
            if parent >= 0:
                mask[node] |= mask[parent]
        return mask


def prefix_trees(rows: Sequence[Sequence[int]], max_nodes: int = TREE_NODES) -> list[PrefixTree]:
    """Rows (token id lists) sorted and merged into prefix trees of at most `max_nodes` nodes each (a longer row
    gets a tree of its own). In sorted order a row's longest shared prefix is the one with the row before it."""
    trees: list[PrefixTree] = []
    tree, previous, previous_path = PrefixTree(), None, []
    for index in sorted(range(len(rows)), key=lambda i: list(rows[i])):
        row = rows[index]
        shared = 0
        if previous is not None:
            limit = min(len(row), len(previous))
            while shared < limit and row[shared] == previous[shared]:
                shared += 1
        if tree.tokens and len(tree.tokens) + len(row) - shared > max_nodes:
            trees.append(tree)
            tree, shared = PrefixTree(), 0
        path = previous_path[:shared]
        for depth in range(shared, len(row)):
            tree.tokens.append(int(row[depth]))
            tree.parents.append(path[-1] if path else -1)
            tree.depths.append(depth)
            path.append(len(tree.tokens) - 1)
        tree.paths[index] = path
        previous, previous_path = row, path
    if tree.tokens:
        trees.append(tree)
    return trees


def shares_prefixes(model) -> bool:
    """Whether `causal_scores` can score `model` on prefix trees (a custom 4-D mask reaches its attention)."""
    config = model.config
    return config.model_type in PREFIX_TREE_TYPES and getattr(config, "_attn_implementation", None) in (
        None,
        "sdpa",
        "eager",
    )


def _tree_log_probs(
    model, rows: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int, tokens_per_pass: int
) -> list[float]:
    """Per row: the summed log-probability of its tokens from `starts[row]` on, scored on prefix trees."""
    device = _device(model)
    dtype = next(model.parameters()).dtype
    trees = prefix_trees(rows, TREE_NODES)
    per_pass = max(1, tokens_per_pass // TREE_NODES)
    log_probs = [0.0] * len(rows)
    for first in range(0, len(trees), per_pass):
        batch = trees[first : first + per_pass]
        width = max(len(t.tokens) for t in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        positions = torch.zeros((len(batch), width), dtype=torch.long)
        parents = torch.zeros((len(batch), width), dtype=torch.long)
        visible = np.zeros((len(batch), 1, width, width), dtype=bool)
        for b, tree in enumerate(batch):
            n = len(tree.tokens)
            ids[b, :n] = torch.tensor(tree.tokens)
            positions[b, :n] = torch.tensor(tree.depths)
            parents[b, :n] = torch.tensor(tree.parents).clamp(min=0)
            visible[b, 0] = tree.ancestor_mask(width)
        mask = torch.zeros(visible.shape, dtype=dtype).masked_fill_(~torch.from_numpy(visible), torch.finfo(dtype).min)
        logits = model(
            input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device)
        ).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        rows_index = torch.arange(len(batch), device=device)[:, None]
        # node k's log-probability: its token under its parent's next-token distribution (roots: unused)
        node_log_probs = logp[rows_index, parents.to(device), ids.to(device)].cpu().numpy().astype(np.float64)
        for b, tree in enumerate(batch):
            for row, path in tree.paths.items():
                log_probs[row] = float(node_log_probs[b, path[starts[row] :]].sum())
    return log_probs


@torch.no_grad()
def causal_scores(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    prefixes: Sequence[str] | None = None,
    batch_size: int = 64,
    share_prefixes: bool | None = None,
) -> CausalScores:
    """Summed log-probabilities of `texts` (each given the context token and its prefix, if any).

    `batch_size` rows per forward pass; on prefix trees (`share_prefixes`, default: where the model can) a pass
    holds as many tokens as `batch_size` average rows. Both ways give the same scores up to float rounding.
    """
    if prefixes is not None and len(prefixes) != len(texts):
        raise ValueError(f"{len(prefixes)} prefixes for {len(texts)} texts")
    context = context_token_id(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else context
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    heads = (
        [[context] + ids for ids in tokenizer(list(prefixes), add_special_tokens=False)["input_ids"]]
        if prefixes is not None
        else [[context]] * len(texts)
    )
    rows = [head + ids for head, ids in zip(heads, encoded, strict=False)]
    starts = [len(head) for head in heads]
    if share_prefixes is None:
        share_prefixes = shares_prefixes(model)
    if share_prefixes and rows:
        mean_row = sum(len(r) for r in rows) / len(rows)
        log_probs = _tree_log_probs(model, rows, starts, pad_id, max(TREE_NODES, round(batch_size * mean_row)))
        return CausalScores(log_probs, [len(e) for e in encoded])
    device = _device(model)
    log_probs = [0.0] * len(texts)
    for batch in _batches([len(r) for r in rows], batch_size):
        ids, mask = _pad([rows[i] for i in batch], pad_id)
        ids = ids.to(device)
        logits = model(input_ids=ids).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        positions = torch.arange(1, ids.shape[1], device=device)[None, :]
        start = torch.tensor([starts[i] for i in batch], device=device)[:, None]
        keep = (positions >= start) & mask[:, 1:].to(device).bool()
        for row, value in zip(batch, (logp * keep).sum(dim=1).tolist(), strict=False):
            log_probs[row] = value
    return CausalScores(log_probs, [len(e) for e in encoded])


def _masked_copies(tokenizer, texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Per text: its framed ids and the positions to predict (every non-special token)."""
    if tokenizer.mask_token_id is None:
        raise DataError("the tokenizer has no mask token, needed for pseudo-log-likelihood")
    encoded = tokenizer(list(texts), add_special_tokens=True, return_special_tokens_mask=True)
    positions = [[p for p, special in enumerate(m) if not special] for m in encoded["special_tokens_mask"]]
    return encoded["input_ids"], positions


@torch.no_grad()
def pseudo_log_likelihoods(
    model, tokenizer, texts: Sequence[str], *, batch_size: int = 64, kind: str | None = None
) -> list[float]:
    """Summed PLL of `texts` under a masked (BERT) or permutation (XLNet) LM; `batch_size` masked copies/pass."""
    kind = kind or scorer_kind(model)
    if kind not in ("mlm", "plm"):
        raise ValueError(f"pseudo-log-likelihood needs an mlm or plm model, not {kind}")
    ids, positions = _masked_copies(tokenizer, texts)
    copies = [(t, p) for t, pos in enumerate(positions) for p in pos]
    left = kind == "plm" and tokenizer.padding_side == "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    mask_id = tokenizer.mask_token_id
    device = _device(model)
    totals = [0.0] * len(texts)
    for batch in _batches([len(ids[t]) for t, _ in copies], batch_size):
        rows, targets, where = [], [], []
        for c in batch:
            t, p = copies[c]
            row = list(ids[t])
            targets.append(row[p])
            row[p] = mask_id
            rows.append(row)
            where.append(p)
        input_ids, attention = _pad(rows, pad_id, left=left)
        width = input_ids.shape[1]
        offsets = [width - len(r) if left else 0 for r in rows]
        column = torch.tensor([w + o for w, o in zip(where, offsets, strict=False)])
        target = torch.tensor(targets)
        if kind == "mlm":
            logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
            logits = logits[torch.arange(len(rows)), column.to(device)]
        else:
            perm_mask = torch.zeros((len(rows), width, width))
            perm_mask[torch.arange(len(rows)), :, column] = 1.0
            target_mapping = torch.zeros((len(rows), 1, width))
            target_mapping[torch.arange(len(rows)), 0, column] = 1.0
            logits = model(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                perm_mask=perm_mask.to(device),
                target_mapping=target_mapping.to(device),
                use_mems=False,
            ).logits[:, 0]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, target.to(device)[:, None])[:, 0]
        for c, value in zip(batch, logp.tolist(), strict=False):
            totals[copies[c][0]] += value
    return totals


def score_texts(
    model, tokenizer, texts: Sequence[str], *, batch_size: int = 64, share_prefixes: bool | None = None
) -> list[float]:
    """One score per text: causal summed log-probability, or PLL for BERT / XLNet."""
    kind = scorer_kind(model)
    if kind == "causal":
        return causal_scores(model, tokenizer, texts, batch_size=batch_size, share_prefixes=share_prefixes).log_probs
    return pseudo_log_likelihoods(model, tokenizer, texts, batch_size=batch_size, kind=kind)


class NGramModel:
    """An add-k smoothed word unigram (order 1) or bigram (order 2) model; unseen words share one slot.

    unigram: P(w) = (c(w) + k) / (N + k (V + 1));  bigram: P(w | u) = (c(u, w) + k) / (c(u) + k (V + 1)),
    with u = <s> before the first word. N tokens, V word types of the training text.
    """

    START = "<s>"

    def __init__(self, order: int, add_k: float) -> None:
        if order not in (1, 2):
            raise ValueError(f"n-gram order must be 1 or 2, not {order}")
        if add_k <= 0:
            raise ValueError(f"add_k must be positive, not {add_k}")
        self.order, self.add_k = order, add_k
        self.unigrams: Counter[str] = Counter()
        self.contexts: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()

    def fit(self, texts: Iterable[str]) -> NGramModel:
        for text in texts:
            for line in text.splitlines():
                tokens = words(line)
                self.unigrams.update(tokens)
                if self.order == 2 and tokens:
                    history = [self.START, *tokens[:-1]]
                    self.contexts.update(history)
                    self.bigrams.update(zip(history, tokens, strict=False))
        return self

    @property
    def total(self) -> int:
        return sum(self.unigrams.values())

    def log_prob(self, text: str) -> float:
        """Summed natural-log probability of the text's words."""
        k, types = self.add_k, len(self.unigrams)
        tokens = words(text)
        if self.order == 1:
            denominator = math.log(self.total + k * (types + 1))
            return float(sum(math.log(self.unigrams.get(w, 0) + k) - denominator for w in tokens))
        history = [self.START, *tokens[:-1]]
        return float(
            sum(
                math.log(self.bigrams.get((u, w), 0) + k) - math.log(self.contexts.get(u, 0) + k * (types + 1))
                for u, w in zip(history, tokens, strict=False)
            )
        )

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        return [self.log_prob(t) for t in texts]


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """Word counts of a training text (the vocabulary filter's input)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return counts


def in_vocabulary(sentences: Sequence[str], counts: Counter[str], min_count: int) -> np.ndarray:
    """Per sentence: every word occurs at least `min_count` times in the counts (min_count 0: all True)."""
    if min_count <= 0:
        return np.ones(len(sentences), dtype=bool)
    return np.array([all(counts.get(w, 0) >= min_count for w in words(s)) for s in sentences], dtype=bool)
